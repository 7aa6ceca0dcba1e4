"""Per-epoch sample grids while a generator trains: a PNG file per epoch and, with a log
folder, the same grid in TensorBoard (``common.callbacks.SamplePredictions``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from common.callbacks import SamplePredictions
from vision.generation.sampling import image_grid, write_png


class SampleGrids(keras.callbacks.Callback):
    """Every ``every`` epochs write ``folder/epoch_NNN.png``: ``draw()`` images (same seed each
    time, so the grids show one set of samples improving)."""

    def __init__(
        self, folder: str | os.PathLike, draw: Callable[[], np.ndarray], every: int = 1
    ) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.draw = draw
        self.every = max(1, int(every))
        self.written: list[Path] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        path = self.folder / f"epoch_{epoch + 1:03d}.png"
        write_png(image_grid(self.draw()), str(path))
        self.written.append(path)


def tensorboard_grids(log_dir: str | os.PathLike, draw: Callable[[], np.ndarray]) -> Any:
    """The same grid as a TensorBoard image under ``log_dir/images`` (tag ``samples``)."""
    return SamplePredictions(
        log_dir, None, lambda _model, _inputs: image_grid(draw())[None], tag="samples"
    )

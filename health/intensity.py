"""In-model intensity mapping: a CT window (level/width -> [0, 1]) or a linear scale, built from
stock Keras layers so models load with ``safe_mode=True`` and export with core ops only."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from health.windowing import resolve_window


def check_intensity(window: str | Sequence[float] | None, scale: float) -> None:
    """Raise ``ValueError`` for a bad window or scale (called from task configs)."""
    if window is not None:
        resolve_window(window)
    elif scale == 0:
        raise ValueError("scale must be non-zero when no window is given")


def intensity_layers(
    x, window: str | Sequence[float] | None, scale: float = 1.0, offset: float = 0.0
):
    """HU -> [0, 1] through ``window`` (clip((v - low) / width, 0, 1)), or ``v * scale +
    offset``."""
    if window is None:
        return keras.layers.Rescaling(scale, offset, name="intensity")(x)
    level, width = resolve_window(window)
    x = keras.layers.Rescaling(1.0 / width, -(level - width / 2.0) / width, name="window")(x)
    return keras.layers.ReLU(max_value=1.0, name="window_clip")(x)

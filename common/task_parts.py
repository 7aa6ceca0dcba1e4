"""Pieces several tasks share beyond ``common.task.Task``: class-name properties, the image
"one input or a batch" rule and the optimizer every config describes the same way."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from common.optimizers import make_optimizer

#: Random-flip modes of the image tasks' ``flip`` option (None: no flips).
FLIPS = (None, "horizontal", "vertical", "horizontal_and_vertical")


class NamedClasses:
    """``classes`` and ``num_classes`` for a task whose config lists its class names."""

    config: Any

    @property
    def classes(self) -> list[str]:
        """The class names, in index order."""
        return self.config.classes

    @property
    def num_classes(self) -> int:
        """How many classes there are."""
        return len(self.config.classes)


class ImageInputs:
    """``is_single_input`` for tasks that take images (mix in before ``Task``)."""

    def is_single_input(self, inputs: Any) -> bool:
        """One image is a path, bytes, a PIL image or an (H, W[, C]) array; (N, H, W, C) is N."""
        if isinstance(inputs, np.ndarray):
            return inputs.ndim != 4
        return not isinstance(inputs, (list, tuple))


def gradient_image(size: int) -> np.ndarray:
    """A (size, size, 3) uint8 colour ramp: a representative image for warmup requests."""
    return np.linspace(0, 255, size * size * 3).reshape(size, size, 3).astype(np.uint8)


def config_optimizer(
    config: Any,
    total_steps: int,
    learning_rate: float | None = None,
    clipnorm: float | None = None,
    warmup_steps: int | None = None,
) -> keras.optimizers.Optimizer:
    """AdamW from the config's ``learning_rate`` (unless given), ``weight_decay`` and
    ``warmup_fraction`` (unless ``warmup_steps`` is given): linear warmup, then cosine decay over
    ``total_steps``."""
    if warmup_steps is None:
        warmup_steps = int(config.warmup_fraction * total_steps)
    return make_optimizer(
        learning_rate=config.learning_rate if learning_rate is None else learning_rate,
        weight_decay=config.weight_decay,
        total_steps=total_steps,
        warmup_steps=warmup_steps,
        clipnorm=clipnorm,
    )

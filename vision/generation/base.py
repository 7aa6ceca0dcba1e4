"""What the three generative models share: the image shape, the class count, loss trackers and
the seeded, core-op sampling interface the task and the export both call.

Images are float ``[b, H, W, C]`` in [0, 1] on both sides of a model; ``sample`` draws every
random number with stateless ops from ``(seed, k)``, so the same seed gives the same images in
``ImageGenerator.generate`` and in the exported graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf


def seed_pair(seed: tf.Tensor, stream: int | tf.Tensor) -> tf.Tensor:
    """A stateless-op seed ``[2]`` for one random stream of a sampling call."""
    return tf.stack([tf.cast(seed, tf.int32), tf.cast(stream, tf.int32)])


class GenerativeModel(keras.Model):
    """Base of ``VAE``, ``WGANGP`` and ``DDIM``: a Keras model trained by ``fit`` through its
    own ``train_step``; sub-networks are built in ``__init__`` so the model holds all its
    variables before any data is seen (``.keras`` files and checkpoints load by structure)."""

    loss_names: tuple[str, ...] = ("loss",)

    def __init__(self, image_shape: Sequence[int], num_classes: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = int(num_classes)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def _record(self, values: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        raise NotImplementedError(
            "generative models are used through train_step, sample and their sub-networks"
        )

    def sample(
        self,
        labels: tf.Tensor,
        seed: tf.Tensor,
        steps: tf.Tensor | None = None,
        eta: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """Images ``[n, H, W, C]`` in [0, 1] for ``labels [n]`` (zeros when unconditional)."""
        raise NotImplementedError

    def get_compile_config(self) -> None:
        """Not stored: a loaded generator is compiled again by the task when it trains."""
        return None

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
        }

"""What the two latent-vector models (``VAE``, ``WGANGP``) share: a network that turns a
``latent_dim`` Gaussian vector (joined, when class-conditional, with an embedding of the label)
into an image through feature maps of ``widths``, and seeded latents for ``sample``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from vision.generation.base import GenerativeModel, seed_pair


def latent_inputs(latent: int, classes: int, label_dim: int) -> tuple[list[Any], Any]:
    """The Keras inputs of a latent-to-image network and the tensor it starts from: ``z``
    ``[b, latent]`` alone or, with ``classes``, joined to a ``label_dim`` embedding of ``labels``
    ``[b]`` (int32)."""
    z = keras.Input((latent,), name="z")
    inputs, x = [z], z
    if classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        x = keras.layers.Concatenate()([x, keras.layers.Embedding(classes, label_dim)(labels)])
    return inputs, x


def smallest_grid(shape: tuple[int, ...], widths: Sequence[int]) -> tuple[int, int, int]:
    """The first feature map ``(height, width, widths[-1])`` of a network that doubles its size
    once per entry of ``widths`` to reach images of ``shape`` ``(H, W, C)``."""
    factor = 2 ** len(widths)
    return shape[0] // factor, shape[1] // factor, int(widths[-1])


class LatentGenerativeModel(GenerativeModel):
    """Base of ``VAE`` and ``WGANGP``: ``widths``, ``latent_dim``, the conditional network
    input and seeded N(0, I) latents."""

    def __init__(
        self,
        image_shape: Sequence[int],
        num_classes: int,
        widths: Sequence[int],
        latent_dim: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_shape, num_classes, **kwargs)
        self.widths = [int(w) for w in widths]
        self.latent_dim = int(latent_dim)

    def _with_labels(self, x: tf.Tensor, labels: tf.Tensor) -> Any:
        """A sub-network's input: ``x``, or ``[x, labels]`` when class-conditional."""
        return [x, labels] if self.num_classes else x

    def _latents(self, labels: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """One N(0, I) latent vector per label ``[n, latent_dim]``, drawn statelessly from
        stream 0 of ``seed``."""
        n = tf.shape(labels)[0]
        return tf.random.stateless_normal([n, self.latent_dim], seed=seed_pair(seed, 0))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "widths": self.widths, "latent_dim": self.latent_dim}

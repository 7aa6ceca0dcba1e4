"""Variational autoencoder (Kingma & Welling, 2014), optionally class-conditional (CVAE).

Encoder: strided convs -> ``mean``, ``log_var`` of a ``latent_dim`` Gaussian; decoder: dense ->
transposed convs -> per-pixel Bernoulli logits. Loss: binary cross-entropy summed over pixels
plus ``kl_weight`` x KL(q(z|x) || N(0, I)), per image. A learned class embedding joins the encoder's
flattened features and the latent vector when ``num_classes`` > 0. ``encode`` / ``decode`` /
``reconstruct`` make it usable as an autoencoder (denoising, reconstruction-error scores).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from vision.generation.latent import LatentGenerativeModel, latent_inputs, smallest_grid


def _encoder(shape: tuple[int, ...], widths: Sequence[int], latent: int, classes: int):
    images = keras.Input(shape, name="images")
    x = images
    for i, width in enumerate(widths):
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", name=f"conv{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    inputs = [images]
    if classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        x = keras.layers.Concatenate()([x, keras.layers.Embedding(classes, 16)(labels)])
    x = keras.layers.Dense(256, activation="relu", name="hidden")(x)
    mean = keras.layers.Dense(latent, name="mean")(x)
    log_var = keras.layers.Dense(latent, name="log_var", kernel_initializer="zeros")(x)
    return keras.Model(inputs, [mean, log_var], name="encoder")


def _decoder(shape: tuple[int, ...], widths: Sequence[int], latent: int, classes: int):
    inputs, x = latent_inputs(latent, classes, 16)
    grid = smallest_grid(shape, widths)
    x = keras.layers.Dense(256, activation="relu", name="hidden")(x)
    x = keras.layers.Dense(math.prod(grid), activation="relu")(x)
    x = keras.layers.Reshape(grid)(x)
    for i, w in enumerate(reversed(widths)):
        x = keras.layers.Conv2DTranspose(w, 3, strides=2, padding="same", name=f"deconv{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    logits = keras.layers.Conv2D(shape[-1], 3, padding="same", dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name="decoder")


@keras.saving.register_keras_serializable(package="dlsuite")
class VAE(LatentGenerativeModel):
    """Convolutional (conditional) VAE; ``sample`` decodes N(0, I) latents."""

    loss_names = ("loss", "reconstruction_loss", "kl_loss")

    def __init__(
        self,
        image_shape: Sequence[int],
        num_classes: int = 0,
        widths: Sequence[int] = (32, 64),
        latent_dim: int = 16,
        kl_weight: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_shape, num_classes, widths, latent_dim, **kwargs)
        self.kl_weight = float(kl_weight)
        self.encoder = _encoder(self.image_shape, self.widths, self.latent_dim, self.num_classes)
        self.decoder = _decoder(self.image_shape, self.widths, self.latent_dim, self.num_classes)
        self.built = True  # every variable exists now

    def encode(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Images in [0, 1] -> latent ``mean``, ``log_var``."""
        mean, log_var = self.encoder(self._with_labels(images, labels), training=False)
        return mean, log_var

    def decode(self, z: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """Latents -> images in [0, 1] (the Bernoulli means)."""
        return tf.sigmoid(self.decoder(self._with_labels(z, labels), training=False))

    def reconstruct(self, images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """Images -> their reconstruction through the latent mean (no sampling noise)."""
        return self.decode(self.encode(images, labels)[0], labels)

    def losses_of(self, images: tf.Tensor, labels: tf.Tensor, training: bool) -> dict:
        mean, log_var = self.encoder(self._with_labels(images, labels), training=training)
        z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
        logits = self.decoder(self._with_labels(z, labels), training=training)
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
        reconstruction = tf.reduce_mean(tf.reduce_sum(cross_entropy, axis=[1, 2, 3]))
        kl = tf.reduce_mean(
            -0.5 * tf.reduce_sum(1 + log_var - tf.square(mean) - tf.exp(log_var), axis=1)
        )
        return {
            "loss": reconstruction + self.kl_weight * kl,
            "reconstruction_loss": reconstruction,
            "kl_loss": kl,
        }

    def train_step(self, data: Any) -> dict:
        images, labels = data
        with tf.GradientTape() as tape:
            losses = self.losses_of(images, labels, training=True)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(
            zip(tape.gradient(losses["loss"], variables), variables, strict=True)
        )
        return self._record(losses)

    def test_step(self, data: Any) -> dict:
        images, labels = data
        return self._record(self.losses_of(images, labels, training=False))

    def sample(self, labels, seed, steps=None, eta=None) -> tf.Tensor:
        return self.decode(self._latents(labels, seed), labels)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kl_weight": self.kl_weight,
        }

"""Denoising diffusion implicit models (Song et al., 2021) after the keras-io DDIM example.

Continuous time, cosine schedule: at time t in [0, 1] an image is ``signal(t) * x + noise(t) *
eps`` with ``signal = cos(angle)``, ``noise = sin(angle)``, the angle moving from
``acos(max_signal_rate)`` to ``acos(min_signal_rate)``. A U-Net (``common.unet.
build_diffusion_unet``) predicts ``eps`` from the noisy image and ``noise(t)**2`` (mean absolute
error); an exponential moving average of its weights is what samples. Sampling runs ``steps``
reverse steps in a ``tf.while_loop`` (so the exported graph takes ``steps`` as an input):
``eta = 0`` is the deterministic DDIM sampler, ``eta = 1`` a DDPM-like stochastic one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from common.unet import build_diffusion_unet
from vision.generation.base import GenerativeModel, seed_pair

MIN_SIGNAL_RATE, MAX_SIGNAL_RATE = 0.02, 0.95


def diffusion_schedule(times: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Diffusion times in [0, 1] -> (noise rates, signal rates); noise^2 + signal^2 = 1."""
    start, end = math.acos(MAX_SIGNAL_RATE), math.acos(MIN_SIGNAL_RATE)
    angles = start + times * (end - start)
    return tf.sin(angles), tf.cos(angles)


@keras.saving.register_keras_serializable(package="dlsuite")
class DDIM(GenerativeModel):
    """Noise-prediction U-Net plus its EMA copy; ``sample(labels, seed, steps, eta)``."""

    def __init__(
        self,
        image_shape: Sequence[int],
        num_classes: int = 0,
        widths: Sequence[int] = (32, 64, 96),
        block_depth: int = 2,
        embedding_dims: int = 32,
        ema: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_shape, num_classes, **kwargs)
        self.widths = [int(w) for w in widths]
        self.block_depth = int(block_depth)
        self.embedding_dims = int(embedding_dims)
        self.ema = float(ema)
        unet: dict[str, Any] = {
            "image_shape": self.image_shape,
            "widths": self.widths,
            "block_depth": self.block_depth,
            "embedding_dims": self.embedding_dims,
            "num_classes": self.num_classes,
        }
        self.network = build_diffusion_unet(**unet, name="network")
        self.ema_network = build_diffusion_unet(**unet, name="ema_network")
        self.ema_network.set_weights(self.network.get_weights())
        self.built = True  # every variable exists now

    def compile(self, optimizer: Any = "adam", **kwargs: Any) -> None:
        super().compile(optimizer=optimizer, jit_compile=False, **kwargs)

    def _predict_noise(self, network, noisy, noise_rates, labels, training: bool) -> tf.Tensor:
        inputs = [noisy, noise_rates**2]
        if self.num_classes:
            inputs.append(labels)
        return network(inputs, training=training)

    def _noise_loss(self, images, labels, training: bool) -> tf.Tensor:
        x = images * 2.0 - 1.0
        n = tf.shape(x)[0]
        noises = tf.random.normal(tf.shape(x))
        times = tf.random.uniform([n, 1, 1, 1])
        noise_rates, signal_rates = diffusion_schedule(times)
        noisy = signal_rates * x + noise_rates * noises
        network = self.network if training else self.ema_network
        predicted = self._predict_noise(network, noisy, noise_rates, labels, training)
        return tf.reduce_mean(tf.abs(noises - predicted))

    def train_step(self, data: Any) -> dict:
        images, labels = data
        with tf.GradientTape() as tape:
            loss = self._noise_loss(images, labels, training=True)
        variables = self.network.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        for weight, ema_weight in zip(self.network.weights, self.ema_network.weights, strict=True):
            ema_weight.assign(self.ema * ema_weight + (1.0 - self.ema) * weight)
        return self._record({"loss": loss})

    def test_step(self, data: Any) -> dict:
        images, labels = data
        return self._record({"loss": self._noise_loss(images, labels, training=False)})

    def sample(self, labels, seed, steps=None, eta=None) -> tf.Tensor:
        """``steps`` reverse steps from pure noise (EMA network); ``eta`` scales the fresh
        noise of each step (0: deterministic DDIM)."""
        steps = tf.constant(20) if steps is None else tf.cast(steps, tf.int32)
        eta = tf.constant(0.0) if eta is None else tf.cast(eta, tf.float32)
        n = tf.shape(labels)[0]
        shape = tf.concat([[n], tf.constant(self.image_shape)], 0)
        x = tf.random.stateless_normal(shape, seed=seed_pair(seed, 0))
        step_size = 1.0 / tf.cast(steps, tf.float32)

        def body(i, noisy, _):
            times = tf.fill([n, 1, 1, 1], 1.0 - tf.cast(i, tf.float32) * step_size)
            noise_rates, signal_rates = diffusion_schedule(times)
            noise = self._predict_noise(self.ema_network, noisy, noise_rates, labels, False)
            images = (noisy - noise_rates * noise) / signal_rates
            next_noise, next_signal = diffusion_schedule(times - step_size)
            sigma = (
                eta
                * tf.sqrt(next_noise**2 / noise_rates**2)
                * tf.sqrt(tf.maximum(1.0 - signal_rates**2 / next_signal**2, 0.0))
            )
            fresh = tf.random.stateless_normal(shape, seed=seed_pair(seed, i + 1))
            direction = tf.sqrt(tf.maximum(next_noise**2 - sigma**2, 0.0))
            noisy = next_signal * images + direction * noise + sigma * fresh
            return i + 1, noisy, images

        _, _, images = tf.while_loop(
            lambda i, *_: i < steps, body, [tf.constant(0), x, tf.zeros_like(x)]
        )
        return tf.clip_by_value((images + 1.0) / 2.0, 0.0, 1.0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "widths": self.widths,
            "block_depth": self.block_depth,
            "embedding_dims": self.embedding_dims,
            "ema": self.ema,
        }

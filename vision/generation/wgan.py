"""WGAN-GP (Gulrajani et al., 2017): a Wasserstein critic with a gradient penalty on random
interpolates, trained ``critic_steps`` times per generator step (as the keras-io example).

Class-conditional models use a projection critic (Miyato & Koyama, 2018): the critic's score
adds the inner product of a learned class embedding with its image features, and the generator
takes a class embedding beside the noise. The generator ends in ``tanh``; images in [0, 1] are
mapped to [-1, 1] for the critic and back for the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from vision.generation.latent import LatentGenerativeModel, latent_inputs, smallest_grid


def _generator(shape: tuple[int, ...], widths: Sequence[int], latent: int, classes: int):
    inputs, x = latent_inputs(latent, classes, latent)
    grid = smallest_grid(shape, widths)
    x = keras.layers.Dense(math.prod(grid), use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Reshape(grid)(x)
    for i, w in enumerate(reversed(widths)):
        x = keras.layers.UpSampling2D(2, name=f"up{i}")(x)
        x = keras.layers.Conv2D(w, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    images = keras.layers.Conv2D(
        shape[-1], 3, padding="same", activation="tanh", dtype="float32", name="images"
    )(x)
    return keras.Model(inputs, images, name="generator")


def _critic(shape: tuple[int, ...], widths: Sequence[int], classes: int, dropout: float):
    images = keras.Input(shape, name="images")
    x = images
    for i, w in enumerate(widths):
        x = keras.layers.Conv2D(w, 5, strides=2, padding="same", name=f"conv{i}")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    features = keras.layers.Flatten()(x)
    score = keras.layers.Dense(1, dtype="float32", name="score")(features)
    inputs = [images]
    if classes:  # projection: score + <embed(y), features>
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = keras.layers.Embedding(classes, features.shape[-1], name="projection")(labels)
        score = keras.layers.Add()([score, keras.layers.Dot(axes=1)([embedded, features])])
    return keras.Model(inputs, score, name="critic")


@keras.saving.register_keras_serializable(package="dlsuite")
class WGANGP(LatentGenerativeModel):
    """Generator + critic; ``compile(optimizer=..., critic_optimizer=...)`` takes one optimizer
    for each."""

    loss_names = ("loss", "wasserstein", "gradient_penalty", "generator_loss")

    def __init__(
        self,
        image_shape: Sequence[int],
        num_classes: int = 0,
        widths: Sequence[int] = (64, 128),
        latent_dim: int = 64,
        critic_steps: int = 3,
        gradient_penalty: float = 10.0,
        dropout: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_shape, num_classes, widths, latent_dim, **kwargs)
        self.critic_steps = int(critic_steps)
        self.gradient_penalty = float(gradient_penalty)
        self.dropout = float(dropout)
        classes = self.num_classes
        self.generator = _generator(self.image_shape, self.widths, self.latent_dim, classes)
        self.critic = _critic(self.image_shape, self.widths, classes, self.dropout)
        self.critic_optimizer: keras.optimizers.Optimizer | None = None
        self.built = True  # every variable exists now

    def compile(self, optimizer: Any = "adam", critic_optimizer: Any = None, **kwargs: Any) -> None:
        super().compile(optimizer=optimizer, jit_compile=False, **kwargs)
        self.critic_optimizer = keras.optimizers.get(critic_optimizer or "adam")
        # Built now so checkpoints and resumed runs find both optimizers' variables.
        self.optimizer.build(self.generator.trainable_variables)
        self.critic_optimizer.build(self.critic.trainable_variables)

    def _fake(self, labels: tf.Tensor, training: bool) -> tf.Tensor:
        z = tf.random.normal([tf.shape(labels)[0], self.latent_dim])
        return self.generator(self._with_labels(z, labels), training=training)

    def critic_losses(self, real: tf.Tensor, labels: tf.Tensor, training: bool) -> dict:
        """Critic loss E[D(fake)] - E[D(real)] + lambda * (||grad D(interpolate)|| - 1)^2."""
        fake = self._fake(labels, training=False)
        alpha = tf.random.uniform([tf.shape(real)[0], 1, 1, 1])
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            mixed_score = self.critic(self._with_labels(mixed, labels), training=training)
        grads = tape.gradient(mixed_score, mixed)
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
        penalty = tf.reduce_mean(tf.square(norm - 1.0))
        real_score = self.critic(self._with_labels(real, labels), training=training)
        fake_score = self.critic(self._with_labels(fake, labels), training=training)
        wasserstein = tf.reduce_mean(real_score) - tf.reduce_mean(fake_score)
        return {
            "loss": -wasserstein + self.gradient_penalty * penalty,
            "wasserstein": wasserstein,
            "gradient_penalty": penalty,
        }

    def train_step(self, data: Any) -> dict:
        images, labels = data
        real = images * 2.0 - 1.0
        assert self.critic_optimizer is not None, "compile the model first"
        losses: dict[str, tf.Tensor] = {}
        for _ in range(self.critic_steps):
            with tf.GradientTape() as tape:
                losses = self.critic_losses(real, labels, training=True)
            variables = self.critic.trainable_variables
            grads = tape.gradient(losses["loss"], variables)
            self.critic_optimizer.apply_gradients(zip(grads, variables, strict=True))
        with tf.GradientTape() as tape:
            fake = self._fake(labels, training=True)
            g_loss = -tf.reduce_mean(self.critic(self._with_labels(fake, labels), training=True))
        variables = self.generator.trainable_variables
        self.optimizer.apply_gradients(
            zip(tape.gradient(g_loss, variables), variables, strict=True)
        )
        return self._record({**losses, "generator_loss": g_loss})

    def test_step(self, data: Any) -> dict:
        images, labels = data
        losses = self.critic_losses(images * 2.0 - 1.0, labels, training=False)
        fake = self._fake(labels, training=False)
        g_loss = -tf.reduce_mean(self.critic(self._with_labels(fake, labels), training=False))
        return self._record({**losses, "generator_loss": g_loss})

    def sample(self, labels, seed, steps=None, eta=None) -> tf.Tensor:
        z = self._latents(labels, seed)
        images = self.generator(self._with_labels(z, labels), training=False)
        return (images + 1.0) / 2.0

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "critic_steps": self.critic_steps,
            "gradient_penalty": self.gradient_penalty,
            "dropout": self.dropout,
        }

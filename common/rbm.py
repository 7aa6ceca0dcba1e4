"""Bernoulli restricted Boltzmann machines trained with contrastive divergence, and greedy
layer-wise pretraining of a deep belief network (Hinton, Osindero & Teh, 2006).

``BernoulliRBM`` is a Keras layer: called on visible units in [0, 1] it returns the hidden
probabilities ``sigmoid(v W + c)``, so a stack of trained RBMs is the first layers of an MLP
that is then fine-tuned with backpropagation. ``train_rbm`` runs CD-k as the gradient of the
free-energy difference between the data and the end of a k-step Gibbs chain started at the data
(the chain's end is held constant), which is the CD-k update written for a Keras optimizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dlsuite")
class BernoulliRBM(keras.layers.Layer):
    """Binary visible and hidden units; ``call(v)`` is P(h = 1 | v) for v in [0, 1]."""

    def __init__(self, units: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.units = int(units)
        if self.units < 1:
            raise ValueError(f"BernoulliRBM needs units >= 1, got {units}")

    def build(self, input_shape):
        visible = input_shape[-1]
        if visible is None:
            raise ValueError("BernoulliRBM needs a known number of visible units")
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(visible), self.units),
            initializer=keras.initializers.RandomNormal(stddev=0.01),
        )
        self.hidden_bias = self.add_weight(
            name="hidden_bias", shape=(self.units,), initializer="zeros"
        )
        # Only contrastive divergence trains it (backpropagation through call never reaches it).
        self.visible_bias = self.add_weight(
            name="visible_bias", shape=(int(visible),), initializer="zeros", trainable=False
        )
        self.built = True

    def call(self, inputs):
        return keras.ops.sigmoid(keras.ops.matmul(inputs, self.kernel) + self.hidden_bias)

    def visible_probabilities(self, hidden: Any) -> Any:
        """P(v = 1 | h)."""
        return keras.ops.sigmoid(
            keras.ops.matmul(hidden, keras.ops.transpose(self.kernel)) + self.visible_bias
        )

    def free_energy(self, visible: Any) -> Any:
        """F(v) = -v.b - sum_j softplus(v W_j + c_j), one value per row; P(v) is prop. to e^-F."""
        pre = keras.ops.matmul(visible, self.kernel) + self.hidden_bias
        return -keras.ops.sum(visible * self.visible_bias, axis=-1) - keras.ops.sum(
            keras.ops.softplus(pre), axis=-1
        )

    def reconstruction_error(self, visible: Any) -> float:
        """Mean squared error between ``visible`` and its mean-field reconstruction."""
        visible = tf.convert_to_tensor(visible, tf.float32)
        return float(tf.reduce_mean(tf.square(visible - self.visible_probabilities(self(visible)))))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


def _bernoulli(probabilities: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    noise = tf.random.stateless_uniform(tf.shape(probabilities), seed=seed)
    return tf.cast(noise < probabilities, probabilities.dtype)


def gibbs_chain(rbm: BernoulliRBM, visible: tf.Tensor, steps: int, seed: tf.Tensor) -> tf.Tensor:
    """``steps`` rounds of block Gibbs sampling v -> h -> v from ``visible``; returns the last v
    (sampled binary units; ``seed`` is a stateless-random seed pair)."""
    for step in range(steps):
        hidden = _bernoulli(rbm(visible), seed + [2 * step, 0])
        visible = _bernoulli(rbm.visible_probabilities(hidden), seed + [2 * step + 1, 0])
    return visible


def check_visible_data(data: Any) -> np.ndarray:
    """(N, V) float32 array of values in [0, 1], or a ValueError naming what is wrong."""
    array = np.asarray(data, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"RBM data must be a non-empty (samples, features) array, got {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("RBM data contains NaN or infinite values")
    if array.min() < 0.0 or array.max() > 1.0:
        raise ValueError(
            f"RBM visible units are probabilities: values must be in [0, 1], got "
            f"{array.min():g} to {array.max():g} (scale pixels by 1/255)"
        )
    return array


def train_rbm(
    rbm: BernoulliRBM,
    data: Any,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 0.05,
    momentum: float = 0.5,
    cd_steps: int = 1,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """Fit ``rbm`` to ``data`` (N, V) in [0, 1] with CD-``cd_steps`` and SGD with momentum;
    returns the reconstruction error after each epoch."""
    if epochs < 1 or batch_size < 1 or cd_steps < 1:
        raise ValueError("train_rbm needs epochs, batch_size and cd_steps >= 1")
    array = check_visible_data(data)
    if not rbm.built:
        rbm.build(array.shape)
    elif int(rbm.kernel.shape[0]) != array.shape[1]:
        raise ValueError(f"the RBM has {rbm.kernel.shape[0]} visible units, data {array.shape[1]}")
    optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum)
    variables = [rbm.kernel, rbm.hidden_bias, rbm.visible_bias]
    watched = [v.value for v in variables]

    @tf.function(reduce_retracing=True)
    def step(batch: tf.Tensor, step_seed: tf.Tensor) -> None:
        negative = tf.stop_gradient(gibbs_chain(rbm, batch, cd_steps, step_seed))
        with tf.GradientTape() as tape:
            tape.watch(watched)  # the visible bias is not trainable for backpropagation
            loss = tf.reduce_mean(rbm.free_energy(batch)) - tf.reduce_mean(
                rbm.free_energy(negative)
            )
            loss += 0.5 * weight_decay * tf.reduce_sum(tf.square(rbm.kernel))
        optimizer.apply_gradients(zip(tape.gradient(loss, watched), variables, strict=True))

    rng = np.random.default_rng(seed)
    errors, count = [], 0
    for _ in range(epochs):
        order = rng.permutation(len(array))
        for start in range(0, len(array), batch_size):
            count += 1
            step(tf.constant(array[order[start : start + batch_size]]), tf.constant([seed, count]))
        errors.append(rbm.reconstruction_error(array))
    return errors


def pretrain_dbn(
    data: Any, units: Sequence[int], **train_options: Any
) -> tuple[list[BernoulliRBM], list[list[float]]]:
    """Greedy layer-wise DBN pretraining: an RBM per entry of ``units``, each trained (with
    ``train_rbm(**train_options)``) on the hidden probabilities of the one below; returns the
    RBMs and each one's reconstruction errors per epoch."""
    if not units:
        raise ValueError("pretrain_dbn needs at least one layer size in units")
    layer_input = check_visible_data(data)
    rbms, histories = [], []
    for index, size in enumerate(units):
        rbm = BernoulliRBM(size, name=f"rbm_{index}")
        histories.append(train_rbm(rbm, layer_input, **train_options))
        layer_input = np.asarray(rbm(layer_input), np.float32)
        rbms.append(rbm)
    return rbms, histories

"""Capsule networks (Sabour, Frosst & Hinton, 2017): squash, primary capsules, dynamic routing,
capsule lengths, the margin loss and the masked reconstruction decoder.

A capsule is a vector whose length is the probability that an entity is present and whose
direction is its pose. ``capsnet_head`` assembles the pieces on top of a rescaled image tensor;
``vision.ImageClassifier(backbone="capsnet")`` uses it. Every layer is registered under the
``dlsuite`` package, so `.keras` files load with ``safe_mode=True``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from common.layers import ConvBNAct

_EPSILON = 1e-7


def squash(vectors: Any, axis: int = -1) -> Any:
    """Shrink ``vectors`` to length ``|s|^2 / (1 + |s|^2)`` keeping their direction (eq. 1)."""
    squared = ops.sum(ops.square(vectors), axis=axis, keepdims=True)
    return vectors * (squared / (1.0 + squared)) / ops.sqrt(squared + _EPSILON)


@keras.saving.register_keras_serializable(package="dlsuite")
class PrimaryCapsules(keras.layers.Layer):
    """A convolution whose output channels are read as ``capsules`` vectors of ``dim`` per
    position: (N, H, W, C) -> (N, H' * W' * capsules, dim), squashed."""

    def __init__(
        self, capsules: int = 16, dim: int = 8, kernel_size: int = 3, strides: int = 2, **kwargs
    ):
        super().__init__(**kwargs)
        self.capsules, self.dim = int(capsules), int(dim)
        self.kernel_size, self.strides = int(kernel_size), int(strides)
        if min(self.capsules, self.dim, self.kernel_size, self.strides) < 1:
            raise ValueError("PrimaryCapsules needs capsules, dim, kernel_size, strides >= 1")
        self.conv = keras.layers.Conv2D(
            self.capsules * self.dim, self.kernel_size, strides=self.strides, padding="same"
        )

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.built = True

    def call(self, inputs):
        x = self.conv(inputs)
        return squash(ops.reshape(x, (ops.shape(x)[0], -1, self.dim)))

    def compute_output_shape(self, input_shape):
        height, width = (
            None if s is None else math.ceil(s / self.strides) for s in input_shape[1:3]
        )
        count = None if height is None or width is None else height * width * self.capsules
        return (input_shape[0], count, self.dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "capsules": self.capsules,
            "dim": self.dim,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
        }


@keras.saving.register_keras_serializable(package="dlsuite")
class RoutingCapsules(keras.layers.Layer):
    """Capsules computed from input capsules by routing-by-agreement (procedure 1 of the paper).

    (N, in_capsules, in_dim) -> (N, capsules, dim). Every input capsule predicts every output
    capsule through its own matrix; ``routings`` iterations raise the coupling of an input to
    the outputs its prediction agrees with. The predictions are held constant in all but the
    last iteration, as in the reference implementations, so gradients flow through one path.
    """

    def __init__(self, capsules: int, dim: int = 16, routings: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.capsules, self.dim, self.routings = int(capsules), int(dim), int(routings)
        if min(self.capsules, self.dim, self.routings) < 1:
            raise ValueError("RoutingCapsules needs capsules, dim and routings >= 1")

    def build(self, input_shape):
        in_capsules, in_dim = input_shape[1], input_shape[2]
        if in_capsules is None or in_dim is None:
            raise ValueError(
                f"RoutingCapsules needs a known input capsule count, got {input_shape}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(int(in_capsules), self.capsules, int(in_dim), self.dim),
            initializer=keras.initializers.RandomNormal(stddev=0.05),
        )
        self.built = True

    def call(self, inputs):
        # u_hat[b, i, j, :] = prediction of output capsule j by input capsule i
        predictions = ops.einsum("bid,ijde->bije", inputs, self.kernel)
        held = ops.stop_gradient(predictions)
        logits = ops.zeros(ops.shape(predictions)[:3], dtype=predictions.dtype)
        outputs = None
        for iteration in range(self.routings):
            coupling = ops.softmax(logits, axis=2)
            last = iteration == self.routings - 1
            votes = predictions if last else held
            outputs = squash(ops.sum(coupling[..., None] * votes, axis=1))
            if not last:
                logits = logits + ops.sum(held * outputs[:, None], axis=-1)
        return outputs

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.capsules, self.dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "capsules": self.capsules,
            "dim": self.dim,
            "routings": self.routings,
        }


@keras.saving.register_keras_serializable(package="dlsuite")
class CapsuleLength(keras.layers.Layer):
    """(N, capsules, dim) -> (N, capsules): each capsule's length, the presence probability."""

    def call(self, inputs):
        return ops.sqrt(ops.sum(ops.square(inputs), axis=-1) + _EPSILON)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


@keras.saving.register_keras_serializable(package="dlsuite")
class MarginLoss(keras.losses.Loss):
    """Margin loss on capsule lengths (eq. 4), summed over classes.

    ``T_k max(0, m+ - |v_k|)^2 + lambda (1 - T_k) max(0, |v_k| - m-)^2`` with ``T_k`` the
    one-hot label (``sparse=True``: integer labels) and ``y_pred`` the capsule lengths.
    """

    def __init__(
        self,
        positive_margin: float = 0.9,
        negative_margin: float = 0.1,
        negative_weight: float = 0.5,
        sparse: bool = True,
        name: str = "margin_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if not 0.0 <= negative_margin < positive_margin <= 1.0:
            raise ValueError(
                "MarginLoss needs 0 <= negative_margin < positive_margin <= 1, got "
                f"{negative_margin} and {positive_margin}"
            )
        self.positive_margin = float(positive_margin)
        self.negative_margin = float(negative_margin)
        self.negative_weight = float(negative_weight)
        self.sparse = bool(sparse)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        if self.sparse:
            target = ops.one_hot(
                ops.reshape(ops.cast(y_true, "int32"), (-1,)), ops.shape(y_pred)[-1]
            )
        else:
            target = ops.cast(y_true, "float32")
        present = target * ops.square(ops.relu(self.positive_margin - y_pred))
        absent = (1.0 - target) * ops.square(ops.relu(y_pred - self.negative_margin))
        return ops.sum(present + self.negative_weight * absent, axis=-1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "positive_margin": self.positive_margin,
            "negative_margin": self.negative_margin,
            "negative_weight": self.negative_weight,
            "sparse": self.sparse,
        }


@keras.saving.register_keras_serializable(package="dlsuite")
class CapsuleReconstruction(keras.layers.Layer):
    """Decoder regulariser: reconstruct the image from the winning class capsule.

    Called on ``[capsules, images]``; keeps only the capsule of the longest class (the model's
    call never sees labels, so it masks by the prediction, which equals the label once training
    fits), decodes it with three dense layers and adds ``weight`` times the summed squared
    pixel error as a model loss. Returns the capsules unchanged, so it sits inline.
    """

    def __init__(self, units: tuple[int, int] = (256, 512), weight: float = 0.0005, **kwargs):
        super().__init__(**kwargs)
        self.units = tuple(int(u) for u in units)
        self.weight = float(weight)
        self.hidden = [keras.layers.Dense(u, activation="relu") for u in self.units]
        self.out: keras.layers.Dense | None = None

    def build(self, input_shape):
        capsules_shape, image_shape = input_shape
        pixels = int(math.prod(image_shape[1:]))
        self.out = keras.layers.Dense(pixels, activation="sigmoid")
        width = int(capsules_shape[1] * capsules_shape[2])
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        self.out.build((None, width))
        self.built = True

    def call(self, inputs, training=None):
        capsules, images = inputs
        lengths = ops.sum(ops.square(capsules), axis=-1)
        mask = ops.one_hot(ops.argmax(lengths, axis=-1), ops.shape(capsules)[1])
        x = ops.reshape(capsules * mask[..., None], (ops.shape(capsules)[0], -1))
        for layer in self.hidden:
            x = layer(x)
        assert self.out is not None
        reconstruction = self.out(x)
        target = ops.reshape(ops.cast(images, reconstruction.dtype), ops.shape(reconstruction))
        if training:
            error = ops.sum(ops.square(reconstruction - target), axis=-1)
            self.add_loss(self.weight * ops.mean(error))
        return capsules

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self) -> dict:
        return {**super().get_config(), "units": list(self.units), "weight": self.weight}


def capsnet_head(
    images: Any,
    num_classes: int,
    stem_filters: int = 64,
    primary_capsules: int = 16,
    primary_dim: int = 8,
    class_dim: int = 16,
    routings: int = 3,
    reconstruction_weight: float = 0.0005,
    max_grid: int = 16,
) -> Any:
    """Capsule lengths (N, num_classes) from ``images`` (N, H, W, C) already scaled to [0, 1].

    A 5x5 convolution, then stride-2 convolutions until the grid is at most ``max_grid`` (the
    paper's 9x9 stack sized for 28x28 MNIST would give tens of thousands of primary capsules
    on larger inputs), primary capsules, routing to one capsule per class and, unless
    ``reconstruction_weight`` is 0, the reconstruction decoder as a regulariser.
    """
    x = ConvBNAct(stem_filters, 5, name="capsnet_stem")(images)
    size, step = int(images.shape[1]), 0
    while size > max_grid:
        step += 1
        x = ConvBNAct(stem_filters * 2, 3, strides=2, name=f"capsnet_down{step}")(x)
        size = math.ceil(size / 2)
    x = PrimaryCapsules(primary_capsules, primary_dim, name="primary_capsules")(x)
    capsules = RoutingCapsules(num_classes, class_dim, routings, name="class_capsules")(x)
    if reconstruction_weight > 0:
        capsules = CapsuleReconstruction(weight=reconstruction_weight, name="reconstruction")(
            [capsules, images]
        )
    return CapsuleLength(dtype="float32", name="probabilities")(capsules)

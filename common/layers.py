"""Reusable convolutional building blocks and an in-model image augmentation layer.

Every layer is registered under the ``dlsuite`` package so `.keras` files that contain them
load with ``safe_mode=True`` and no ``custom_objects``. ``rank`` selects 2-D (images) or 3-D
(volumes) convolutions, so vision and health share the same blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

_FLIP_MODES = (None, "horizontal", "vertical", "horizontal_and_vertical")


def _check_rank(rank: int) -> int:
    if rank not in (2, 3):
        raise ValueError(f"rank must be 2 (images) or 3 (volumes), got {rank!r}.")
    return rank


def _conv(rank: int, filters: int, kernel_size, strides, dilation_rate, name: str):
    conv_cls = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    return conv_cls(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        dilation_rate=dilation_rate,
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )


@keras.saving.register_keras_serializable(package="dlsuite")
class ConvBNAct(keras.layers.Layer):
    """Convolution ("same" padding, no bias) + BatchNormalization + optional activation.

    The basic unit of every CNN in the suite; the bias is dropped because BN re-centres anyway.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int] = 3,
        strides: int | Sequence[int] = 1,
        activation: str | None = "relu",
        rank: int = 2,
        dilation_rate: int | Sequence[int] = 1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = kernel_size
        self.strides = strides
        self.activation = activation
        self.rank = _check_rank(rank)
        self.dilation_rate = dilation_rate
        self.conv = _conv(self.rank, self.filters, kernel_size, strides, dilation_rate, "conv")
        # synchronized: under a tf.distribute strategy the batch statistics (and so the moving
        # averages) are all-reduced, so every worker ends with the same BN state.
        self.bn = keras.layers.BatchNormalization(momentum=0.9, synchronized=True, name="bn")
        self.act = keras.layers.Activation(activation, name="act") if activation else None

    def build(self, input_shape):
        self.conv.build(input_shape)
        out_shape = self.conv.compute_output_shape(input_shape)
        self.bn.build(out_shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.bn(self.conv(inputs), training=training)
        return self.act(x) if self.act is not None else x

    def compute_output_shape(self, input_shape):
        return self.conv.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            activation=self.activation,
            rank=self.rank,
            dilation_rate=self.dilation_rate,
        )
        return config


@keras.saving.register_keras_serializable(package="dlsuite")
class SqueezeExcite(keras.layers.Layer):
    """Squeeze-and-Excitation: rescale channels by gates computed from their global average.

    Cheap channel attention (Hu et al., 2018); ``ratio`` sets the bottleneck width.
    """

    def __init__(self, ratio: float = 0.25, rank: int = 2, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {ratio!r}.")
        self.ratio = float(ratio)
        self.rank = _check_rank(rank)
        pool_cls = (
            keras.layers.GlobalAveragePooling2D
            if self.rank == 2
            else keras.layers.GlobalAveragePooling3D
        )
        self.pool = pool_cls(keepdims=True, name="pool")
        self.reduce = None
        self.expand = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("SqueezeExcite needs a known channel dimension.")
        squeezed = max(1, int(channels * self.ratio))
        self.reduce = keras.layers.Dense(squeezed, activation="relu", name="reduce")
        self.expand = keras.layers.Dense(channels, activation="sigmoid", name="expand")
        pooled_shape = (input_shape[0],) + (1,) * self.rank + (channels,)
        self.reduce.build(pooled_shape)
        self.expand.build(pooled_shape[:-1] + (squeezed,))
        self.built = True

    def call(self, inputs):
        gates = self.expand(self.reduce(self.pool(inputs)))
        return inputs * gates

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(ratio=self.ratio, rank=self.rank)
        return config


@keras.saving.register_keras_serializable(package="dlsuite")
class ResidualBlock(keras.layers.Layer):
    """Basic two-convolution residual block (He et al., 2016) with optional SE.

    A 1x1 conv + BN projection aligns the shortcut when the stride or channel count changes.
    """

    def __init__(
        self,
        filters: int,
        strides: int = 1,
        activation: str = "relu",
        se_ratio: float = 0.0,
        rank: int = 2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = strides
        self.activation = activation
        self.se_ratio = float(se_ratio)
        self.rank = _check_rank(rank)
        self.conv1 = ConvBNAct(
            self.filters, 3, strides=strides, activation=activation, rank=self.rank, name="conv1"
        )
        self.conv2 = ConvBNAct(self.filters, 3, activation=None, rank=self.rank, name="conv2")
        self.se = (
            SqueezeExcite(self.se_ratio, rank=self.rank, name="se") if self.se_ratio > 0 else None
        )
        self.shortcut = None
        self.out_act = keras.layers.Activation(activation, name="out_act")

    def build(self, input_shape):
        self.conv1.build(input_shape)
        mid_shape = self.conv1.compute_output_shape(input_shape)
        self.conv2.build(mid_shape)
        if self.se is not None:
            self.se.build(mid_shape)
        if self.strides != 1 or input_shape[-1] != self.filters:
            self.shortcut = ConvBNAct(
                self.filters,
                1,
                strides=self.strides,
                activation=None,
                rank=self.rank,
                name="shortcut",
            )
            self.shortcut.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        x = self.conv1(inputs, training=training)
        x = self.conv2(x, training=training)
        if self.se is not None:
            x = self.se(x)
        residual = self.shortcut(inputs, training=training) if self.shortcut is not None else inputs
        return self.out_act(x + residual)

    def compute_output_shape(self, input_shape):
        return self.conv1.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            filters=self.filters,
            strides=self.strides,
            activation=self.activation,
            se_ratio=self.se_ratio,
            rank=self.rank,
        )
        return config


@keras.saving.register_keras_serializable(package="dlsuite")
class ImageAugmentation(keras.layers.Layer):
    """Random flip / rotation / translation / zoom / contrast, active only when training.

    Living inside the model keeps augmentation on the accelerator and out of the input
    pipeline; at inference (``training`` False or None) it returns its input unchanged, so
    exported graphs are deterministic. Expects float images in [0, 255]. A factor of 0 (or
    ``flip=None``) skips that transform.
    """

    def __init__(
        self,
        flip: str | None = "horizontal",
        rotation: float = 0.05,
        zoom: float = 0.1,
        translation: float = 0.1,
        contrast: float = 0.1,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if flip not in _FLIP_MODES:
            raise ValueError(f"flip must be one of {_FLIP_MODES}, got {flip!r}.")
        for label, factor in (
            ("rotation", rotation),
            ("zoom", zoom),
            ("translation", translation),
            ("contrast", contrast),
        ):
            if factor < 0:
                raise ValueError(f"{label} factor must be >= 0, got {factor!r}.")
        self.flip = flip
        self.rotation = float(rotation)
        self.zoom = float(zoom)
        self.translation = float(translation)
        self.contrast = float(contrast)
        self.seed = seed

        def next_seed(offset: int) -> int | None:
            return None if seed is None else seed + offset

        self.transforms = []
        if flip:
            self.transforms.append(keras.layers.RandomFlip(flip, seed=next_seed(0), name="flip"))
        if self.rotation:
            self.transforms.append(
                keras.layers.RandomRotation(self.rotation, seed=next_seed(1), name="rotation")
            )
        if self.translation:
            self.transforms.append(
                keras.layers.RandomTranslation(
                    self.translation, self.translation, seed=next_seed(2), name="translation"
                )
            )
        if self.zoom:
            self.transforms.append(
                keras.layers.RandomZoom(self.zoom, seed=next_seed(3), name="zoom")
            )
        if self.contrast:
            self.transforms.append(
                keras.layers.RandomContrast(
                    self.contrast, value_range=(0, 255), seed=next_seed(4), name="contrast"
                )
            )

    def build(self, input_shape):
        for transform in self.transforms:
            transform.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        if not training:
            return inputs
        x = inputs
        for transform in self.transforms:
            x = transform(x, training=True)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            flip=self.flip,
            rotation=self.rotation,
            zoom=self.zoom,
            translation=self.translation,
            contrast=self.contrast,
            seed=self.seed,
        )
        return config


def build_small_resnet(
    input_shape: Sequence[int | None],
    widths: Sequence[int] = (32, 64, 128),
    blocks_per_stage: int = 1,
    se_ratio: float = 0.0,
    activation: str = "relu",
    name: str = "small_resnet",
) -> keras.Model:
    """Build a small ResNet backbone that returns the final feature map (no pooling, no head).

    Input is float already scaled to [0, 1]. The stem keeps the resolution; every stage after
    the first halves it. ``len(input_shape) - 1`` picks 2-D (H, W, C) or 3-D (D, H, W, C).
    """
    input_shape = tuple(input_shape)
    rank = _check_rank(len(input_shape) - 1)
    if not widths:
        raise ValueError("widths must name at least one stage.")
    if blocks_per_stage < 1:
        raise ValueError(f"blocks_per_stage must be >= 1, got {blocks_per_stage!r}.")
    inputs = keras.Input(shape=input_shape, name="inputs")
    x = ConvBNAct(widths[0], 3, activation=activation, rank=rank, name="stem")(inputs)
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            x = ResidualBlock(
                width,
                strides=strides,
                activation=activation,
                se_ratio=se_ratio,
                rank=rank,
                name=f"stage{stage + 1}_block{block + 1}",
            )(x)
    return keras.Model(inputs, x, name=name)

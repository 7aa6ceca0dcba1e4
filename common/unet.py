"""Encoder-decoder segmentation blocks: U-Net (Ronneberger et al., 2015) and DeepLabV3+
(Chen et al., 2018) with atrous spatial pyramid pooling, 2-D or 3-D by input rank.

Built from ``common.layers.ConvBNAct`` and registered under ``dlsuite`` so models holding them
load with ``safe_mode=True``. Domain-free: images and medical volumes use the same code
(``build_unet((128, 128, 3), 4)`` or ``build_unet((32, 64, 64, 1), 2)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from common.layers import ConvBNAct, _check_rank


@keras.saving.register_keras_serializable(package="dlsuite")
class DoubleConv(keras.layers.Layer):
    """Two 3x3 ConvBNAct in a row: the unit every U-Net stage is made of."""

    def __init__(self, filters: int, rank: int = 2, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.rank = _check_rank(rank)
        self.dropout = float(dropout)
        self.conv1 = ConvBNAct(self.filters, 3, rank=self.rank, name="conv1")
        self.conv2 = ConvBNAct(self.filters, 3, rank=self.rank, name="conv2")
        self.drop = keras.layers.Dropout(self.dropout, name="dropout") if self.dropout else None

    def build(self, input_shape):
        self.conv1.build(input_shape)
        self.conv2.build(self.conv1.compute_output_shape(input_shape))
        self.built = True

    def call(self, inputs, training=None):
        x = self.conv1(inputs, training=training)
        if self.drop is not None:
            x = self.drop(x, training=training)
        return self.conv2(x, training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(filters=self.filters, rank=self.rank, dropout=self.dropout)
        return config


@keras.saving.register_keras_serializable(package="dlsuite")
class UpBlock(keras.layers.Layer):
    """U-Net decoder step: upsample x2 (nearest + 1x1 conv), concatenate the skip, DoubleConv."""

    def __init__(self, filters: int, rank: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.rank = _check_rank(rank)
        up_cls = keras.layers.UpSampling2D if self.rank == 2 else keras.layers.UpSampling3D
        self.up = up_cls(2, name="up")
        self.reduce = ConvBNAct(self.filters, 1, rank=self.rank, name="reduce")
        self.concat = keras.layers.Concatenate(name="concat")
        self.convs = DoubleConv(self.filters, rank=self.rank, name="convs")

    def build(self, input_shape):
        low_shape, skip_shape = input_shape
        up_shape = self.up.compute_output_shape(low_shape)
        self.reduce.build(up_shape)
        self.convs.build((*skip_shape[:-1], skip_shape[-1] + self.filters))
        self.built = True

    def call(self, inputs, training=None):
        low, skip = inputs
        x = self.reduce(self.up(low), training=training)
        return self.convs(self.concat([x, skip]), training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape[1][:-1], self.filters)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(filters=self.filters, rank=self.rank)
        return config


@keras.saving.register_keras_serializable(package="dlsuite")
class ASPP(keras.layers.Layer):
    """Atrous spatial pyramid pooling: 1x1 conv, 3x3 convs at several dilation rates and a
    global-average "image pooling" branch, concatenated and projected by a 1x1 conv.

    Sees context at several scales without losing resolution (DeepLabV3).
    """

    def __init__(
        self,
        filters: int = 64,
        rates: Sequence[int] = (2, 4, 6),
        rank: int = 2,
        dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.rates = [int(r) for r in rates]
        self.rank = _check_rank(rank)
        self.dropout = float(dropout)
        self.branches = [ConvBNAct(self.filters, 1, rank=self.rank, name="branch_1x1")] + [
            ConvBNAct(self.filters, 3, dilation_rate=r, rank=self.rank, name=f"branch_rate{r}")
            for r in self.rates
        ]
        pool_cls = (
            keras.layers.GlobalAveragePooling2D
            if self.rank == 2
            else keras.layers.GlobalAveragePooling3D
        )
        conv_cls = keras.layers.Conv2D if self.rank == 2 else keras.layers.Conv3D
        self.pool = pool_cls(keepdims=True, name="image_pool")
        self.pool_conv = conv_cls(self.filters, 1, activation="relu", name="image_pool_conv")
        self.concat = keras.layers.Concatenate(name="concat")
        self.project = ConvBNAct(self.filters, 1, rank=self.rank, name="project")
        self.drop = keras.layers.Dropout(self.dropout, name="dropout") if self.dropout else None

    def build(self, input_shape):
        for branch in self.branches:
            branch.build(input_shape)
        pooled = (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        self.pool_conv.build(pooled)
        self.project.build((*input_shape[:-1], self.filters * (len(self.branches) + 1)))
        self.built = True

    def call(self, inputs, training=None):
        outputs = [branch(inputs, training=training) for branch in self.branches]
        pooled = self.pool_conv(self.pool(inputs))
        outputs.append(pooled * ops.ones_like(outputs[0][..., :1]))  # broadcast back to full size
        x = self.project(self.concat(outputs), training=training)
        return self.drop(x, training=training) if self.drop is not None else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(filters=self.filters, rates=self.rates, rank=self.rank, dropout=self.dropout)
        return config


def _pool(rank: int, name: str) -> keras.layers.Layer:
    return (keras.layers.MaxPooling2D if rank == 2 else keras.layers.MaxPooling3D)(2, name=name)


def _upsample(rank: int, factor: int, name: str) -> keras.layers.Layer:
    if rank == 2:
        return keras.layers.UpSampling2D(factor, interpolation="bilinear", name=name)
    return keras.layers.UpSampling3D(factor, name=name)


def _head(x, num_classes: int, rank: int, activation: str | None):
    conv_cls = keras.layers.Conv2D if rank == 2 else keras.layers.Conv3D
    x = conv_cls(num_classes, 1, name="logits")(x)
    if activation:
        x = keras.layers.Activation(activation, dtype="float32", name="probabilities")(x)
    return x


def build_unet(
    input_shape: Sequence[int | None],
    num_classes: int,
    widths: Sequence[int] = (16, 32, 64, 128),
    dropout: float = 0.0,
    activation: str | None = "softmax",
    name: str = "unet",
) -> keras.Model:
    """U-Net: DoubleConv + max-pool down ``len(widths) - 1`` times, UpBlocks back with skips.

    Input is float already scaled as the caller wants; spatial sizes must be divisible by
    ``2 ** (len(widths) - 1)``. Output: per-pixel (per-voxel) class probabilities (or logits).
    """
    input_shape = tuple(input_shape)
    rank = _check_rank(len(input_shape) - 1)
    if len(widths) < 2:
        raise ValueError("a U-Net needs at least two widths (one down and one up step)")
    factor = 2 ** (len(widths) - 1)
    if any(d is not None and d % factor for d in input_shape[:-1]):
        raise ValueError(f"spatial sizes {input_shape[:-1]} must be divisible by {factor}")
    inputs = keras.Input(input_shape, name="inputs")
    x, skips = inputs, []
    for i, width in enumerate(widths[:-1]):
        x = DoubleConv(width, rank=rank, name=f"down{i}")(x)
        skips.append(x)
        x = _pool(rank, f"pool{i}")(x)
    x = DoubleConv(widths[-1], rank=rank, dropout=dropout, name="bottleneck")(x)
    for i, (width, skip) in enumerate(zip(reversed(widths[:-1]), reversed(skips), strict=True)):
        x = UpBlock(width, rank=rank, name=f"up{i}")([x, skip])
    return keras.Model(inputs, _head(x, num_classes, rank, activation), name=name)


def build_deeplabv3plus(
    input_shape: Sequence[int | None],
    num_classes: int,
    widths: Sequence[int] = (16, 32, 64, 128),
    aspp_filters: int = 64,
    rates: Sequence[int] = (2, 4, 6),
    activation: str | None = "softmax",
    name: str = "deeplabv3plus",
) -> keras.Model:
    """DeepLabV3+: strided encoder to 1/``2**len(widths)``, ASPP on the deepest features,
    decoder joins them (upsampled) with the 1/4-resolution features, then upsamples to full size."""
    input_shape = tuple(input_shape)
    rank = _check_rank(len(input_shape) - 1)
    if len(widths) < 3:
        raise ValueError("DeepLabV3+ needs at least three widths (1/2, 1/4 and a deeper stage)")
    factor = 2 ** len(widths)
    if any(d is not None and d % factor for d in input_shape[:-1]):
        raise ValueError(f"spatial sizes {input_shape[:-1]} must be divisible by {factor}")
    inputs = keras.Input(input_shape, name="inputs")
    x = ConvBNAct(widths[0], 3, strides=2, rank=rank, name="stem")(inputs)
    low_level = None
    for i, width in enumerate(widths[1:]):
        x = ConvBNAct(width, 3, strides=2, rank=rank, name=f"stage{i + 1}_down")(x)
        x = ConvBNAct(width, 3, rank=rank, name=f"stage{i + 1}_conv")(x)
        if i == 0:
            low_level = x  # 1/4 resolution
    x = ASPP(aspp_filters, rates, rank=rank, name="aspp")(x)
    x = _upsample(rank, factor // 4, "up_to_quarter")(x)
    low = ConvBNAct(max(8, aspp_filters // 4), 1, rank=rank, name="low_level_reduce")(low_level)
    x = keras.layers.Concatenate(name="decoder_concat")([x, low])
    x = ConvBNAct(aspp_filters, 3, rank=rank, name="decoder_conv1")(x)
    x = ConvBNAct(aspp_filters, 3, rank=rank, name="decoder_conv2")(x)
    x = _upsample(rank, 4, "up_to_full")(x)
    return keras.Model(inputs, _head(x, num_classes, rank, activation), name=name)


@keras.saving.register_keras_serializable(package="dlsuite")
class SinusoidalEmbedding(keras.layers.Layer):
    """Noise level ``[b, 1, 1, 1]`` -> ``[b, 1, 1, dims]`` sines and cosines of it at
    log-spaced frequencies (the diffusion time embedding of the keras-io DDIM example)."""

    def __init__(self, dims: int = 32, max_frequency: float = 1000.0, **kwargs):
        super().__init__(**kwargs)
        if dims < 2 or dims % 2:
            raise ValueError(f"embedding dims must be a positive even number, got {dims}")
        self.dims = int(dims)
        self.max_frequency = float(max_frequency)

    def call(self, noise_level):
        frequencies = ops.exp(
            ops.linspace(0.0, ops.log(self.max_frequency), self.dims // 2)
        )  # 1 .. max_frequency
        angles = 2.0 * 3.141592653589793 * ops.cast(frequencies, noise_level.dtype) * noise_level
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dims)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(dims=self.dims, max_frequency=self.max_frequency)
        return config


def _diffusion_block(x, width: int, name: str):
    """Residual block of the diffusion U-Net: BN (no affine), two 3x3 convs (swish), skip."""
    residual = x
    if x.shape[-1] != width:
        residual = keras.layers.Conv2D(width, 1, name=f"{name}_skip")(x)
    x = keras.layers.BatchNormalization(center=False, scale=False, name=f"{name}_norm")(x)
    x = keras.layers.Conv2D(width, 3, padding="same", activation="swish", name=f"{name}_conv1")(x)
    x = keras.layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(x)
    return keras.layers.Add(name=f"{name}_add")([x, residual])


def build_diffusion_unet(
    image_shape: Sequence[int],
    widths: Sequence[int] = (32, 64, 96),
    block_depth: int = 2,
    embedding_dims: int = 32,
    num_classes: int = 0,
    name: str = "diffusion_unet",
) -> keras.Model:
    """The noise-prediction U-Net of DDIM (Song et al., 2021; keras-io "Denoising Diffusion
    Implicit Models"): inputs ``noisy_images [b, H, W, C]`` and ``noise_level [b, 1, 1, 1]``
    (the noise standard deviation), plus ``labels [b]`` when ``num_classes`` > 0 (a learned
    class embedding, concatenated like the time embedding); output: the predicted noise.

    Spatial sizes must be divisible by ``2 ** (len(widths) - 1)``.
    """
    height, width, channels = (int(d) for d in image_shape)
    if len(widths) < 2:
        raise ValueError("a U-Net needs at least two widths (one down and one up step)")
    factor = 2 ** (len(widths) - 1)
    if height % factor or width % factor:
        raise ValueError(f"spatial sizes {(height, width)} must be divisible by {factor}")
    noisy = keras.Input((height, width, channels), name="noisy_images")
    level = keras.Input((1, 1, 1), name="noise_level")
    inputs = [noisy, level]
    embeddings = [SinusoidalEmbedding(embedding_dims, name="time_embedding")(level)]
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        e = keras.layers.Embedding(num_classes, embedding_dims, name="class_embedding")(labels)
        embeddings.append(keras.layers.Reshape((1, 1, embedding_dims), name="class_map")(e))
    e = embeddings[0] if len(embeddings) == 1 else keras.layers.Concatenate()(embeddings)
    e = keras.layers.UpSampling2D((height, width), name="embedding_map")(e)
    x = keras.layers.Conv2D(widths[0], 1, name="stem")(noisy)
    x = keras.layers.Concatenate(name="with_embedding")([x, e])
    skips = []
    for i, w in enumerate(widths[:-1]):
        for j in range(block_depth):
            x = _diffusion_block(x, w, f"down{i}_{j}")
            skips.append(x)
        x = keras.layers.AveragePooling2D(2, name=f"pool{i}")(x)
    for j in range(block_depth):
        x = _diffusion_block(x, widths[-1], f"bottleneck_{j}")
    for i, w in enumerate(reversed(widths[:-1])):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i}")(x)
        for j in range(block_depth):
            x = keras.layers.Concatenate(name=f"up{i}_{j}_concat")([x, skips.pop()])
            x = _diffusion_block(x, w, f"up{i}_{j}")
    outputs = keras.layers.Conv2D(
        channels, 1, kernel_initializer="zeros", dtype="float32", name="noise"
    )(x)
    return keras.Model(inputs, outputs, name=name)

"""The enhancer network: a residual conv net (EDSR-style: conv, residual blocks without batch
norm, conv) that predicts a correction added to its input, or for super-resolution to the
bilinear upsampling of its input (sub-pixel convolution, ``depth_to_space``, for the detail).
Fully convolutional, so any image size works; the last conv starts at zero, so an untrained
enhancer returns the plain (upsampled) input."""

from __future__ import annotations

import keras
import tensorflow as tf


class ScaleLayer(keras.layers.Layer):
    """Base of the two layers that enlarge a feature map by an integer ``scale`` (kept in the
    layer config)."""

    def __init__(self, scale: int, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="dlsuite")
class BilinearUpsample(ScaleLayer):
    """``[b, h, w, c]`` -> ``[b, scale*h, scale*w, c]`` by bilinear resizing (any input size)."""

    def call(self, x):
        size = tf.shape(x)[1:3] * self.scale
        return tf.image.resize(x, size, method="bilinear")


@keras.saving.register_keras_serializable(package="dlsuite")
class DepthToSpace(ScaleLayer):
    """Sub-pixel convolution's rearrangement: ``[b, h, w, c*s*s]`` -> ``[b, s*h, s*w, c]``."""

    def call(self, x):
        return tf.nn.depth_to_space(x, self.scale)


def build_enhancer(
    channels: int, scale: int = 1, filters: int = 32, blocks: int = 4
) -> keras.Model:
    """Images ``[b, h, w, channels]`` in [0, 1] -> enhanced ``[b, scale*h, scale*w, channels]``."""
    inputs = keras.Input((None, None, channels), name="images")
    x = first = keras.layers.Conv2D(filters, 3, padding="same", name="head")(inputs)
    for i in range(blocks):
        y = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"b{i}_1")(x)
        y = keras.layers.Conv2D(filters, 3, padding="same", name=f"b{i}_2")(y)
        x = keras.layers.Add(name=f"b{i}_add")([x, y])
    x = keras.layers.Add(name="long_skip")([first, x])
    base = inputs
    if scale > 1:
        x = keras.layers.Conv2D(channels * scale * scale, 3, padding="same", name="subpixel")(x)
        x = DepthToSpace(scale, name="depth_to_space")(x)
        base = BilinearUpsample(scale, name="bilinear")(inputs)
    x = keras.layers.Conv2D(
        channels, 3, padding="same", kernel_initializer="zeros", dtype="float32", name="residual"
    )(x)
    return keras.Model(inputs, keras.layers.Add(name="enhanced")([base, x]), name="enhancer")

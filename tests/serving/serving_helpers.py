"""Tiny ``tf.Module`` models and image helpers for the serving tests (see conftest.py)."""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf
from PIL import Image


class Tabular(tf.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = tf.Variable(rng.normal(size=(3, 2)).astype("float32"))
        self.labels = tf.constant(["neg", "pos"])

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
    def serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        scores = tf.nn.softmax(tf.matmul(features, self.w), axis=-1)
        return {"scores": scores, "label": tf.gather(self.labels, tf.argmax(scores, axis=-1))}


class Images(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        def one(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image = tf.image.resize(tf.cast(image, tf.float32), [8, 8])
            thumb = tf.cast(tf.image.resize(image, [2, 2]), tf.uint8)
            return tf.reduce_mean(image, axis=[0, 1]) / 255.0, tf.io.encode_png(thumb)

        mean, thumb = tf.map_fn(
            one,
            image_bytes,
            fn_output_signature=(tf.TensorSpec([3], tf.float32), tf.TensorSpec([], tf.string)),
        )
        return {"mean": mean, "thumbnail_bytes": thumb}


class Pair(tf.Module):
    spec = tf.TensorSpec([None, 2], tf.float32)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.float32, name="a"),
            tf.TensorSpec([None, 2], tf.float32, name="b"),
        ]
    )
    def serve(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": a + b, "dot": tf.reduce_sum(a * b, axis=-1)}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.float32, name="a"),
            tf.TensorSpec([None, 2], tf.float32, name="b"),
        ]
    )
    def sum_only(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": a + b}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.float32, name="x"),
            tf.TensorSpec([], tf.float32, name="factor"),
        ]
    )
    def scale(self, x: tf.Tensor, factor: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x * factor}

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="tokens"),
            tf.TensorSpec([None, None], tf.bool, name="mask"),
        ]
    )
    def count(self, tokens: tf.Tensor, mask: tf.Tensor) -> dict[str, tf.Tensor]:
        kept = tf.where(mask, tokens, tf.zeros_like(tokens))
        return {"n": tf.reduce_sum(tf.cast(kept, tf.int64), axis=-1)}


def png_bytes(color: tuple[int, int, int], size: int = 6) -> bytes:
    """A solid-colour PNG."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(color: tuple[int, int, int], size: int = 8) -> bytes:
    """A solid-colour JPEG."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="JPEG", quality=95)
    return buf.getvalue()

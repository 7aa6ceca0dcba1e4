"""Turn what a person has (paths, bytes, PIL images, arrays) into model-ready image tensors.

The same TensorFlow ops run in ``predict`` and inside the exported serving graph, so a file sent
to TF Serving and the same file given to ``task.predict`` produce the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.task_parts import gradient_image

IMAGE_ARRAY_SHAPES = "(H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"


def to_model_input(image: tf.Tensor, image_size: int) -> tf.Tensor:
    """One image (H, W, C) of any channel count 1/3/4 -> float32 (size, size, 3) in [0, 255]."""
    image = tf.convert_to_tensor(image)
    if image.shape.rank == 2:
        image = image[..., tf.newaxis]
    channels = image.shape[-1]
    if channels == 1:
        image = tf.image.grayscale_to_rgb(image)
    elif channels == 4:
        image = image[..., :3]
    image = tf.cast(image, tf.float32)
    return tf.image.resize(image, (image_size, image_size), method="bilinear")


def decode_to_model_input(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP bytes (scalar string) -> float32 (size, size, 3) in [0, 255]."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return to_model_input(image, image_size)


def decode_batch(image_bytes: tf.Tensor, image_size: int) -> tf.Tensor:
    """A batch of encoded images (N,) -> float32 (N, size, size, 3); used by the serving graph."""
    return tf.map_fn(
        lambda one: decode_to_model_input(one, image_size),
        image_bytes,
        fn_output_signature=tf.TensorSpec((image_size, image_size, 3), tf.float32),
    )


def _describe(item: Any) -> str:
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    if isinstance(item, bytes):
        return f"<{len(item)} bytes>"
    return type(item).__name__


def read_image_bytes(item: str | os.PathLike | bytes) -> bytes:
    """File path or bytes -> the encoded bytes, with a ValueError naming a missing file."""
    if isinstance(item, bytes):
        if not item:
            raise ValueError("empty image bytes")
        return item
    path = Path(item)
    if not path.is_file():
        raise ValueError(f"image file not found: {path}")
    return path.read_bytes()


def decode_image(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode encoded image bytes to a uint8 (H, W, 3) array; corrupt data -> ValueError naming
    it."""
    try:
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(
            f"cannot decode image {name}: not a valid JPEG/PNG/GIF/BMP file"
        ) from error
    return image.numpy()


def as_image_array(item: Any) -> np.ndarray:
    """Any single image a person may hold -> (H, W, C) NumPy array (C in 1, 3, 4)."""
    if isinstance(item, (str, os.PathLike, bytes)):
        return decode_image(read_image_bytes(item), _describe(item))
    if hasattr(item, "convert") and hasattr(item, "mode"):  # PIL.Image.Image
        if item.mode not in ("L", "RGB", "RGBA"):
            item = item.convert("RGB")
        return np.asarray(item)
    array = np.asarray(item)
    if array.dtype == object or array.size == 0:
        raise ValueError(f"cannot read an image from {_describe(item)}")
    if array.ndim == 2:
        array = array[..., np.newaxis]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"expected an image array of shape {IMAGE_ARRAY_SHAPES}, got shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
        raise ValueError(f"image arrays must be numeric, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError("image array contains NaN or infinite values")
    return array


def as_rgb_uint8(image: Any) -> np.ndarray:
    """An in-memory image of a data set -> (H, W, 3) uint8: grey repeated to RGB, alpha dropped,
    values clipped to [0, 255] (the detection and segmentation sets store images this way)."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected images of shape (H, W) or (H, W, 1|3|4), got {array.shape}")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.clip(array[..., :3], 0, 255).astype(np.uint8)


def split_batch(inputs: Any) -> list[Any]:
    """A 4-D array is a batch of images; anything else is one image or a list of them."""
    if isinstance(inputs, np.ndarray):
        if inputs.ndim == 4:
            return list(inputs)
        if inputs.ndim in (2, 3):
            return [inputs]
        raise ValueError(
            f"expected an image array of shape {IMAGE_ARRAY_SHAPES} or a batch (N, H, W, C), "
            f"got shape {inputs.shape}"
        )
    if isinstance(inputs, (list, tuple)):
        return list(inputs)
    return [inputs]


def encode_png(image: np.ndarray) -> bytes:
    """uint8 image array -> PNG bytes (used for warmup requests and tests)."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., np.newaxis]
    return tf.io.encode_png(tf.convert_to_tensor(array.astype(np.uint8))).numpy()


def prepare_batch(inputs: Any, image_size: int) -> tuple[tf.Tensor, list[tuple[int, int]]]:
    """Whatever ``predict`` was given -> (model-ready batch, each image's original (H, W)).

    Encoded files and bytes go through the same decode ops as the serving graph, so Python
    predictions equal the export's.
    """
    items = split_batch(inputs)
    if not items:
        raise ValueError("predict needs at least one image, got an empty list")
    prepared, sizes = [], []
    for item in items:
        if isinstance(item, (str, os.PathLike, bytes)):
            data = read_image_bytes(item)
            sizes.append(tuple(decode_image(data, _describe(item)).shape[:2]))
            prepared.append(decode_to_model_input(tf.constant(data), image_size))
        else:
            array = as_image_array(item)
            sizes.append(tuple(array.shape[:2]))
            prepared.append(to_model_input(array, image_size))
    return tf.stack(prepared), sizes


class ServesImageBytes:
    """Export hooks of the vision tasks (mix in before ``Task``): ``serving_default`` takes a
    batch of encoded images (``image_bytes``, JSON ``{"b64": ...}``) and the warmup request is
    one PNG of the model's input size."""

    config: Any

    @staticmethod
    def image_bytes_endpoint(serve: Callable[[tf.Tensor], dict[str, tf.Tensor]]) -> dict[str, Any]:
        """``serving_endpoints``' table for one ``serve(image_bytes)`` function."""
        return {"serving_default": (serve, [tf.TensorSpec([None], tf.string, name="image_bytes")])}

    def warmup_inputs(self) -> dict[str, Any]:
        png = encode_png(gradient_image(self.config.image_size))
        return {"image_bytes": np.array([png], dtype=object)}

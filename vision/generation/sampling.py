"""Seeded sampling in core TensorFlow ops, shared by ``ImageGenerator.generate`` and the
exported ``serving_default``, plus the sample grids written while training.

``sampling_graph`` checks the request (``num_images`` in [1, max_images], a known class or ""
for random classes, ``steps`` >= 1, ``eta`` in [0, 1]) with ``tf.debugging`` asserts (an
``InvalidArgumentError``, which the server answers with 400), picks the labels, runs the
model's ``sample`` and encodes each image as PNG. Python's ``generate`` checks the same request
first with ``ValueError``s, then runs the same function, so a seed gives the same images in both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from vision.generation.base import GenerativeModel, seed_pair

#: Random-stream index of the class labels drawn when a request names no class.
LABEL_STREAM = 1000


def sampling_graph(
    model: GenerativeModel, class_names: Sequence[str], max_images: int
) -> Callable[..., dict[str, tf.Tensor]]:
    """``fn(num_images, class_name, seed, steps, eta) -> {images, png, classes}`` in core ops.

    ``images`` are float32 ``[n, H, W, C]`` in [0, 1]; ``png`` the same images as PNG bytes
    (rounded to uint8); ``classes`` each image's class name ("" when unconditional).
    """
    names = tf.constant(list(class_names) or [""])
    conditional = bool(class_names)
    count = len(class_names)

    def fn(num_images, class_name, seed, steps, eta):
        num_images = tf.cast(num_images, tf.int32)
        checks = [
            tf.debugging.assert_greater_equal(
                num_images, 1, message="num_images must be at least 1"
            ),
            tf.debugging.assert_less_equal(
                num_images, max_images, message=f"num_images must be at most {max_images}"
            ),
            tf.debugging.assert_greater_equal(steps, 1, message="steps must be at least 1"),
            tf.debugging.assert_greater_equal(eta, 0.0, message="eta must be in [0, 1]"),
            tf.debugging.assert_less_equal(eta, 1.0, message="eta must be in [0, 1]"),
        ]
        matches = tf.equal(names, class_name)
        known = tf.logical_or(tf.equal(class_name, ""), tf.reduce_any(matches))
        if not conditional:
            known = tf.equal(class_name, "")
        message = (
            f"unknown class; the model's classes are {list(class_names)}"
            if conditional
            else 'this generator is unconditional: send class ""'
        )
        checks.append(tf.debugging.Assert(known, [message, class_name]))
        with tf.control_dependencies(checks):
            num_images = tf.identity(num_images)
        if conditional:
            random = tf.random.stateless_uniform(
                [num_images], seed_pair(seed, LABEL_STREAM), 0, count, dtype=tf.int32
            )
            chosen = tf.fill([num_images], tf.cast(tf.argmax(tf.cast(matches, tf.int32)), tf.int32))
            labels = tf.where(tf.equal(class_name, ""), random, chosen)
        else:
            labels = tf.zeros([num_images], tf.int32)
        images = model.sample(labels, seed, steps, eta)
        pixels = tf.cast(tf.round(images * 255.0), tf.uint8)
        png = tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)
        classes = tf.gather(names, labels)
        return {"images": images, "png": png, "classes": classes}

    return fn


def image_grid(images: np.ndarray, columns: int | None = None, pad: int = 1) -> np.ndarray:
    """Images ``[n, H, W, C]`` in [0, 1] -> one uint8 grid picture ``[rows*(H+pad), ..., 3]``."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or not len(images):
        raise ValueError(f"expected a batch of images [n, H, W, C], got shape {images.shape}")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    n, h, w, _ = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = image
    return np.round(np.clip(grid, 0.0, 1.0) * 255).astype(np.uint8)


def write_png(picture: np.ndarray, path: str) -> None:
    """Write a uint8 ``[H, W, C]`` picture as PNG (folders made as needed)."""
    from pathlib import Path

    from common.atomic import staged

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with staged(target) as staging:
        staging.write_bytes(tf.io.encode_png(picture).numpy())

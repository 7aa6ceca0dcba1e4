"""``vision.pretrain_contrastive``: a SimCLR-style backbone learned from unlabelled images.

Two random views of each image (Keras augmentation layers: crop-like zoom and shift, flips,
rotation, contrast) go through one backbone and a projection head; ``common.losses.NTXentLoss``
pulls the two views of an image together and pushes the other images of the batch away (Chen
et al., 2020). The head is thrown away: what is returned is the backbone, which takes float
images in [0, 255] and returns a feature map, ready for ``vision.ImageClassifier(backbone=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.layers import ImageAugmentation, build_small_resnet
from common.losses import NTXentLoss
from vision import images as images_lib


def contrastive_backbone(
    image_size: int, widths: Sequence[int] = (32, 64, 128), blocks_per_stage: int = 1
) -> keras.Model:
    """The small ResNet of ``ImageClassifier`` with its rescaling inside: [0, 255] images in."""
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    shape = (image_size, image_size, 3)
    x = build_small_resnet(shape, widths=tuple(widths), blocks_per_stage=blocks_per_stage)(x)
    return keras.Model(inputs, x, name="contrastive_backbone")


def _views_model(
    backbone: keras.Model, projection_dim: int, strength: float, seed: int
) -> keras.Model:
    """images -> ``[B, 2, projection_dim]``: two augmented views through backbone and head."""
    size = int(backbone.input_shape[1])
    inputs = keras.Input((size, size, 3), name="image")
    width = int(backbone.output_shape[-1])
    head = keras.Sequential(
        [
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(projection_dim),
            keras.layers.Reshape((1, projection_dim)),
        ],
        name="projection_head",
    )
    views = []
    for view in range(2):
        augment = ImageAugmentation(
            flip="horizontal",
            rotation=0.05 * strength,
            zoom=0.4 * strength,
            translation=0.2 * strength,
            contrast=0.4 * strength,
            seed=seed + 10 * view,
            name=f"view_{view}",
        )
        views.append(head(backbone(augment(inputs))))
    pairs = keras.layers.Concatenate(axis=1, name="pairs", dtype="float32")(views)
    return keras.Model(inputs, pairs, name="simclr")


def _image_tensor(images: Any, image_size: int | None) -> tuple[tf.Tensor, int]:
    """Arrays ``(N, H, W[, C])`` or a list of what ``predict`` takes -> (N, S, S, 3) floats."""
    if isinstance(images, np.ndarray):
        array = images[..., np.newaxis] if images.ndim == 3 else images
        if array.ndim != 4 or array.shape[-1] not in (1, 3, 4):
            raise ValueError(
                "expected images of shape (N, H, W), (N, H, W, 1), (N, H, W, 3) or (N, H, W, 4), "
                f"got {images.shape}"
            )
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError("the images contain NaN or infinite values")
        if image_size is None:
            if array.shape[1] != array.shape[2]:
                raise ValueError(
                    f"the images are {array.shape[1]}x{array.shape[2]}: pass image_size=..."
                )
            image_size = int(array.shape[1])
        batch = tf.stack([images_lib.to_model_input(image, image_size) for image in array])
        return batch, image_size
    if image_size is None:
        raise ValueError("pass image_size=... with a list of image files, bytes or arrays")
    return images_lib.prepare_batch(list(images), image_size)[0], image_size


def pretrain_contrastive(
    images: Any,
    *,
    image_size: int | None = None,
    widths: Sequence[int] = (32, 64, 128),
    blocks_per_stage: int = 1,
    projection_dim: int = 64,
    temperature: float = 0.2,
    augment_strength: float = 1.0,
    epochs: int = 50,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
) -> keras.Model:
    """Learn a backbone from unlabelled ``images`` with NT-Xent; returns the backbone model.

    ``images``: an array ``(N, H, W[, C])`` (uint8 or floats in [0, 255]) or a list of image
    files / bytes / arrays (then give ``image_size``). The backbone takes ``(S, S, 3)`` floats in
    [0, 255] and returns the small ResNet's feature map; pass it to
    ``vision.ImageClassifier(backbone=...)`` to fine-tune on the few labelled images.
    """
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {epochs} and {batch_size}")
    if augment_strength <= 0:
        raise ValueError(f"augment_strength must be positive, got {augment_strength}")
    batch, image_size = _image_tensor(images, image_size)
    count = int(batch.shape[0])
    if count < 2:
        raise ValueError(f"contrastive pretraining needs at least 2 images, got {count}")
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16, got {image_size}")
    keras.utils.set_random_seed(seed)
    batch_size = min(batch_size, count)
    steps = count // batch_size
    dataset = (
        tf.data.Dataset.from_tensor_slices(batch)
        .cache()
        .shuffle(count, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .map(lambda x: (x, tf.zeros([tf.shape(x)[0]])))
        .prefetch(tf.data.AUTOTUNE)
    )
    backbone = contrastive_backbone(image_size, widths, blocks_per_stage)
    model = _views_model(backbone, projection_dim, augment_strength, seed)
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=max(1, steps * epochs)
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        loss=NTXentLoss(temperature),
    )
    model.fit(dataset, epochs=epochs, callbacks=list(callbacks), verbose=verbose)
    return backbone

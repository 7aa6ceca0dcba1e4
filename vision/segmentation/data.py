"""Semantic-segmentation data: image + mask folders, TFDS ``oxford_iiit_pet``, synthetic shapes.

Masks are class-index images (H, W): value k marks class k. Folder masks may be palette PNGs
(the VOC convention: the palette index is the class) or single-channel index PNGs; RGB colour
masks are rejected, since colours cannot be mapped to classes without a table. A mask whose size
differs from its image, or that holds a value outside the classes, is a ``ValueError`` naming
the file: resizing or clamping it would silently change labels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.data import load_tfds
from vision.data import SHAPE_CLASSES, split_by_image
from vision.detection.data import make_shape_scenes
from vision.images import as_rgb_uint8

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
PET_CLASSES = ["pet", "background", "border"]


@dataclass
class SegmentationSet:
    """Images (uint8 arrays) with class-index masks of the same height and width."""

    images: list[np.ndarray]
    masks: list[np.ndarray]
    class_names: list[str]

    def __post_init__(self) -> None:
        if len(self.images) != len(self.masks):
            raise ValueError(f"got {len(self.images)} images but {len(self.masks)} masks")
        self.images = [as_rgb_uint8(image) for image in self.images]
        self.masks = [np.asarray(m) for m in self.masks]
        for i, (image, mask) in enumerate(zip(self.images, self.masks, strict=True)):
            check_mask(mask, image.shape[:2], len(self.class_names), f"mask {i}")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: Sequence[int]) -> SegmentationSet:
        return SegmentationSet(
            [self.images[int(i)] for i in index],
            [self.masks[int(i)] for i in index],
            self.class_names,
        )

    def split(
        self, val_fraction: float = 0.2, seed: int = 0
    ) -> tuple[SegmentationSet, SegmentationSet]:
        """Random (train, validation) split by image (``vision.data.split_by_image``)."""
        return split_by_image(self, val_fraction, seed)

    def to_dataset(self) -> tf.data.Dataset:
        """Unbatched ``{"image": uint8 (H, W, 3), "mask": int32 (H, W)}`` examples."""
        if len(self) == 0:
            raise ValueError("the segmentation dataset is empty")
        pairs = list(zip(self.images, self.masks, strict=True))
        dataset = tf.data.Dataset.from_generator(
            lambda: ({"image": image, "mask": mask.astype(np.int32)} for image, mask in pairs),
            output_signature={
                "image": tf.TensorSpec((None, None, 3), tf.uint8),
                "mask": tf.TensorSpec((None, None), tf.int32),
            },
        )
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self)))


def check_mask(mask: np.ndarray, image_shape: tuple[int, int], num_classes: int, name: str) -> None:
    """Raise ``ValueError`` unless ``mask`` is an (H, W) class-index map matching its image."""
    if mask.ndim != 2:
        raise ValueError(f"{name}: masks must be (H, W) class-index maps, got shape {mask.shape}")
    if tuple(mask.shape) != tuple(image_shape):
        raise ValueError(
            f"{name}: mask size {mask.shape[0]}x{mask.shape[1]} differs from its image "
            f"{image_shape[0]}x{image_shape[1]}"
        )
    if mask.dtype.kind not in "ui" and mask.dtype != bool:
        raise ValueError(f"{name}: masks must hold integer class indices, got dtype {mask.dtype}")
    if mask.size and (mask.min() < 0 or mask.max() >= num_classes):
        bad = sorted(int(v) for v in np.unique(mask) if v < 0 or v >= num_classes)
        raise ValueError(
            f"{name}: mask values {bad[:5]} are not class indices 0..{num_classes - 1}"
        )


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """A palette or single-channel index PNG -> (H, W) class indices."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L", "I", "I;16", "1"):
                raise ValueError(
                    f"{path}: mask mode {image.mode} is not a class-index image; save masks as "
                    "palette ('P') or single-channel ('L') PNGs whose values are class indices"
                )
            return np.asarray(image).astype(np.int32)
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot read mask {path}: {error}") from error


def load_mask_folder(
    images_dir: str | os.PathLike,
    masks_dir: str | os.PathLike,
    class_names: Sequence[str] | None = None,
) -> SegmentationSet:
    """Pair ``images_dir/NAME.*`` with ``masks_dir/NAME.png`` -> ``SegmentationSet``.

    Without ``class_names`` the classes are "0".."K" for the largest index found.
    """
    from vision.images import decode_image

    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    for folder in (images_dir, masks_dir):
        if not folder.is_dir():
            raise ValueError(f"folder not found: {folder}")
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ValueError(f"{images_dir} holds no images")
    masks_by_stem = {p.stem: p for p in masks_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    missing = [p.name for p in images if p.stem not in masks_by_stem]
    if missing:
        raise ValueError(f"no mask in {masks_dir} for image(s) {missing[:5]}")
    arrays, masks = [], []
    for path in images:
        arrays.append(decode_image(path.read_bytes(), str(path)))
        masks.append(read_mask(masks_by_stem[path.stem]))
    if class_names is None:
        class_names = [str(i) for i in range(int(max(m.max() for m in masks)) + 1)]
    names = list(class_names)
    for path, image, mask in zip(images, arrays, masks, strict=True):
        check_mask(mask, image.shape[:2], len(names), str(masks_by_stem[path.stem]))
    return SegmentationSet(arrays, masks, names)


def load_tfds_segmentation(
    name: str = "oxford_iiit_pet",
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool | None = None,
) -> tuple[tf.data.Dataset, list[str]]:
    """TFDS ``oxford_iiit_pet`` -> ({"image", "mask"} with classes pet, background, border).

    The trimap's values 1, 2, 3 become class indices 0, 1, 2. ``download`` as in
    ``common.data.load_tfds`` (default: download when online).
    """
    if not name.startswith("oxford_iiit_pet"):
        raise ValueError(f"load_tfds_segmentation supports oxford_iiit_pet, got {name!r}")
    dataset = load_tfds(
        name, split=split, data_dir=data_dir, as_supervised=False, download=download
    )

    def convert(example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        mask = tf.cast(example["segmentation_mask"], tf.int32)
        return {"image": example["image"], "mask": tf.reshape(mask - 1, tf.shape(mask)[:2])}

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE), list(PET_CLASSES)


def make_shape_masks(
    count: int = 200, image_size: int = 128, seed: int = 0, **scene_options: Any
) -> SegmentationSet:
    """Synthetic shape scenes with masks: background, circle, square, triangle."""
    scenes = make_shape_scenes(count, image_size, seed=seed, **scene_options)
    return SegmentationSet(list(scenes.images), list(scenes.masks), ["background", *SHAPE_CLASSES])

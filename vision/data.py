"""Image data sources: class folders, IDX files, TFDS names, and the built-in offline sets.

Built-in sets: scikit-learn's digits (1,797 real 8x8 handwritten digits, shipped inside the
package) and a synthetic shapes set drawn in NumPy. They make tests and the demo run offline in
seconds; quality claims are measured on real data in ``bench/``.
"""

from __future__ import annotations

import gzip
import os
import struct
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import tensorflow as tf

from common.data import load_tfds

SHAPE_CLASSES = ("circle", "square", "triangle")


class PerImageData(Protocol):
    """A data set of images that can be cut into subsets by image index."""

    def __len__(self) -> int: ...

    def subset(self, index: Sequence[int]) -> PerImageData: ...


DataT = TypeVar("DataT", bound=PerImageData)


def split_by_image(data: DataT, val_fraction: float = 0.2, seed: int = 0) -> tuple[DataT, DataT]:
    """Random (train, validation) split of ``data`` by image; at least one validation image.

    The detection and segmentation sets split this way (their ``split`` methods).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    order = np.random.default_rng(seed).permutation(len(data))
    cut = max(1, int(round(len(data) * val_fraction)))
    train, val = data.subset(order[cut:].tolist()), data.subset(order[:cut].tolist())
    return train, val  # type: ignore[return-value]  # subset returns the data's own class


@dataclass
class ImageArrays:
    """Images (N, H, W, C) with integer labels and the class names they index."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> ImageArrays:
        return ImageArrays(self.images[index], self.labels[index], self.class_names)


def load_digits() -> ImageArrays:
    """scikit-learn's handwritten digits as (N, 8, 8, 1) uint8 images in [0, 255]."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    return ImageArrays(images, digits.target.astype(np.int32), [str(d) for d in range(10)])


def make_shapes(count: int = 600, image_size: int = 48, seed: int = 0) -> ImageArrays:
    """Synthetic RGB images of one circle, square or triangle each (random size, place, colour).

    Backgrounds are noisy and coloured so the task is not solvable from a single pixel.
    """
    if count < 1 or image_size < 16:
        raise ValueError("make_shapes needs count >= 1 and image_size >= 16")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:image_size, 0:image_size]
    images = np.empty((count, image_size, image_size, 3), np.uint8)
    labels = rng.integers(0, len(SHAPE_CLASSES), size=count).astype(np.int32)
    for i, label in enumerate(labels):
        background = rng.uniform(0, 120, size=3)
        canvas = background + rng.normal(0, 12, size=(image_size, image_size, 3))
        radius = rng.uniform(0.15, 0.35) * image_size
        cy, cx = rng.uniform(radius, image_size - radius, size=2)
        if SHAPE_CLASSES[label] == "circle":
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        elif SHAPE_CLASSES[label] == "square":
            half = radius * 0.85
            inside = (np.abs(yy - cy) <= half) & (np.abs(xx - cx) <= half)
        else:  # upward triangle: below the apex, inside both slanted edges
            top, bottom = cy - radius, cy + radius
            rel = (yy - top) / (bottom - top)
            inside = (rel >= 0) & (rel <= 1) & (np.abs(xx - cx) <= rel * radius)
        canvas[inside] = rng.uniform(140, 255, size=3)
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    return ImageArrays(images, labels, list(SHAPE_CLASSES))


def load_image_folder(
    directory: str | os.PathLike,
    image_size: int,
    class_names: list[str] | None = None,
) -> tuple[tf.data.Dataset, list[str]]:
    """A folder with one sub-folder per class -> unbatched (image float32 [0,255], label) dataset.

    With ``class_names`` the sub-folders must be exactly those classes (an unknown folder is a
    ``ValueError``, never a silently wrong label index).
    """
    import keras

    root = Path(directory)
    if not root.is_dir():
        raise ValueError(f"image folder not found: {root}")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise ValueError(f"{root} has no class sub-folders (expected one folder per class)")
    if class_names is not None:
        unknown = sorted(set(found) - set(class_names))
        if unknown:
            raise ValueError(
                f"{root} has folders for unknown classes {unknown}; the model's classes are "
                f"{list(class_names)}"
            )
    names = list(class_names) if class_names is not None else found
    present = [name for name in names if name in found]
    dataset = keras.utils.image_dataset_from_directory(
        root,
        labels="inferred",
        label_mode="int",
        class_names=present,
        image_size=(image_size, image_size),
        batch_size=None,
        shuffle=False,
        verbose=False,
    )
    if present != names:  # re-index labels into the full class list
        mapping = tf.constant([names.index(name) for name in present], tf.int32)
        dataset = dataset.map(lambda image, label: (image, tf.gather(mapping, label)))
    return dataset, names


def load_tfds_images(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool | None = None,
) -> tuple[tf.data.Dataset, list[str]]:
    """An image-classification TFDS dataset by name -> (unbatched dataset, class names).

    ``download`` as in ``common.data.load_tfds`` (default: download when online).
    """
    dataset, info = load_tfds(
        name, split=split, data_dir=data_dir, as_supervised=True, download=download, with_info=True
    )
    label = info.features["label"]
    names = (
        list(label.names) if hasattr(label, "names") else [str(i) for i in range(label.num_classes)]
    )
    return dataset.map(lambda image, y: (image, tf.cast(y, tf.int32))), names


def _open_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def load_idx(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style IDX files (optionally gzipped) -> uint8 images (N, H, W, 1) and labels (N,)."""
    images_raw = _open_maybe_gzip(Path(images_path))
    labels_raw = _open_maybe_gzip(Path(labels_path))
    magic, count, rows, cols = struct.unpack(">IIII", images_raw[:16])
    if magic != 2051:
        raise ValueError(f"{images_path} is not an IDX image file (magic {magic}, expected 2051)")
    label_magic, label_count = struct.unpack(">II", labels_raw[:8])
    if label_magic != 2049:
        raise ValueError(f"{labels_path} is not an IDX label file (magic {label_magic})")
    if label_count != count:
        raise ValueError(f"IDX files disagree: {count} images but {label_count} labels")
    images = np.frombuffer(images_raw, np.uint8, count * rows * cols, offset=16)
    labels = np.frombuffer(labels_raw, np.uint8, count, offset=8)
    return images.reshape(count, rows, cols, 1), labels.astype(np.int32)


@dataclass
class VocObject:
    """One annotated object of a Pascal VOC file: class name and pixel box."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float


def parse_voc_annotation(path: str | os.PathLike) -> tuple[str, list[VocObject]]:
    """Read a Pascal VOC XML file -> (image file name, objects with pixel boxes)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as error:
        raise ValueError(f"{path} is not valid VOC XML: {error}") from error
    except (OSError, UnicodeError, RecursionError) as error:
        raise ValueError(f"{path} cannot be read as VOC XML: {error}") from None
    filename = (root.findtext("filename") or "").strip()
    objects = []
    for number, node in enumerate(root.iter("object"), start=1):
        box = node.find("bndbox")
        if box is None:
            raise ValueError(f"{path}: an <object> has no <bndbox>")
        coords = []
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            text = box.findtext(tag, "nan")
            try:
                coords.append(float(text))
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path}: object {number} has <{tag}>{text[:40]!r}</{tag}>, not a number"
                ) from None
        objects.append(VocObject((node.findtext("name") or "").strip(), *coords))
    return filename, objects

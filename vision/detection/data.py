"""Object-detection data: COCO JSON, Pascal VOC folders, TFDS ``coco`` / ``voc``, synthetic shapes.

Every source becomes a ``DetectionSet`` (images plus per-image ``[ymin, xmin, ymax, xmax]`` pixel
boxes and class indices) or, for TFDS, an unbatched ``tf.data`` of ``{"image", "boxes",
"labels"}``. Annotation problems are handled the same way everywhere (``clean_boxes``): boxes
reaching outside the image are clipped, boxes with no area left are dropped, both counted in one
warning; NaN coordinates, inverted boxes and unknown class names are ``ValueError``s naming the
file. Images without objects are kept: they teach the detector what background looks like.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.data import load_tfds
from vision.data import SHAPE_CLASSES, parse_voc_annotation, split_by_image
from vision.images import as_rgb_uint8


@dataclass
class BoxReport:
    """Counts of annotation fixes made while loading, reported in one warning."""

    clipped: int = 0
    dropped_empty: int = 0
    skipped_crowd: int = 0

    def warn(self, source: str, stacklevel: int = 3) -> None:
        parts = []
        if self.clipped:
            parts.append(f"{self.clipped} box(es) reaching outside their image were clipped")
        if self.dropped_empty:
            parts.append(f"{self.dropped_empty} box(es) with zero area were dropped")
        if self.skipped_crowd:
            parts.append(f"{self.skipped_crowd} COCO crowd region(s) were skipped")
        if parts:
            warnings.warn(f"{source}: " + "; ".join(parts), stacklevel=stacklevel)


class _LoadedImages:
    """What a file loader gathers: image paths with their cleaned boxes and labels, and the
    fix-ups made on the way (``report``, warned about once by ``to_set``)."""

    def __init__(self) -> None:
        self.images: list[str] = []
        self.boxes: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.report = BoxReport()

    def add(
        self, image: Path, yxyx: np.ndarray, labels: np.ndarray, size: tuple[int, int], name: str
    ) -> None:
        """One image of ``size`` (height, width) with yxyx pixel boxes (``clean_boxes``)."""
        boxes, keep = clean_boxes(yxyx, size[0], size[1], name, self.report)
        self.images.append(str(image))
        self.boxes.append(boxes)
        self.labels.append(labels[keep])

    def to_set(self, class_names: list[str], source: str) -> DetectionSet:
        self.report.warn(source, stacklevel=4)  # attributed to the loader's caller
        return DetectionSet(self.images, self.boxes, self.labels, class_names)


def clean_boxes(
    boxes: Any, height: int, width: int, name: str, report: BoxReport
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (M, 4) yxyx pixel boxes of one image: clip to the image, drop empty ones.

    Returns (clean boxes, index of the kept rows). NaN / infinite coordinates and inverted boxes
    (max < min) are errors, since no fix-up could know the intended box.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{name}: box coordinates must be finite numbers, got {boxes.tolist()}")
    inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if inverted.any():
        raise ValueError(
            f"{name}: box {boxes[inverted][0].tolist()} has max < min "
            "(expected ymin, xmin, ymax, xmax)"
        )
    limits = np.array([height, width, height, width], np.float32)
    clipped = np.clip(boxes, 0.0, limits)
    report.clipped += int(np.any(clipped != boxes, axis=1).sum())
    keep = np.flatnonzero((clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1]))
    report.dropped_empty += len(boxes) - len(keep)
    return clipped[keep], keep


@dataclass
class DetectionSet:
    """Images (file paths or uint8 arrays) with per-image yxyx pixel boxes (M, 4), labels (M,)."""

    images: list[Any]
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    class_names: list[str]
    masks: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not (len(self.images) == len(self.boxes) == len(self.labels)):
            raise ValueError(
                f"got {len(self.images)} images, {len(self.boxes)} box lists and "
                f"{len(self.labels)} label lists; they must match"
            )
        self.boxes = [np.asarray(b, np.float32).reshape(-1, 4) for b in self.boxes]
        self.labels = [np.asarray(v, np.int32).reshape(-1) for v in self.labels]
        for i, (b, v) in enumerate(zip(self.boxes, self.labels, strict=True)):
            if len(b) != len(v):
                raise ValueError(f"image {i}: {len(b)} boxes but {len(v)} labels")
            if len(v) and (v.min() < 0 or v.max() >= len(self.class_names)):
                raise ValueError(
                    f"image {i}: label indices must be in [0, {len(self.class_names) - 1}] "
                    f"for classes {self.class_names}, got {v.tolist()}"
                )
        # In-memory images have a known size: clip / drop their boxes as the loaders do.
        report = BoxReport()
        for i, image in enumerate(self.images):
            if not isinstance(image, (str, os.PathLike)):
                height, width = np.shape(image)[:2]
                self.boxes[i], keep = clean_boxes(
                    self.boxes[i], height, width, f"image {i}", report
                )
                self.labels[i] = self.labels[i][keep]
        report.warn("DetectionSet")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def num_boxes(self) -> int:
        return int(sum(len(v) for v in self.labels))

    def subset(self, index: Sequence[int]) -> DetectionSet:
        index = [int(i) for i in index]
        return DetectionSet(
            [self.images[i] for i in index],
            [self.boxes[i] for i in index],
            [self.labels[i] for i in index],
            self.class_names,
            None if self.masks is None else self.masks[index],
        )

    def split(self, val_fraction: float = 0.2, seed: int = 0) -> tuple[DetectionSet, DetectionSet]:
        """Random (train, validation) split by image (``vision.data.split_by_image``)."""
        return split_by_image(self, val_fraction, seed)

    def to_dataset(self) -> tf.data.Dataset:
        """Unbatched ``{"image": uint8 (H, W, 3), "boxes": (M, 4), "labels": (M,)}`` examples."""
        if len(self) == 0:
            raise ValueError("the detection dataset is empty")
        row_lengths = [len(v) for v in self.labels]
        boxes = tf.RaggedTensor.from_row_lengths(
            np.concatenate(self.boxes).reshape(-1, 4), row_lengths
        )
        labels = tf.RaggedTensor.from_row_lengths(np.concatenate(self.labels), row_lengths)
        annotations = tf.data.Dataset.from_tensor_slices((boxes, labels))
        if all(isinstance(image, (str, os.PathLike)) for image in self.images):
            paths = tf.data.Dataset.from_tensor_slices([str(p) for p in self.images])
            images = paths.map(_read_image, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            arrays = [as_rgb_uint8(image) for image in self.images]
            images = tf.data.Dataset.from_generator(
                lambda: iter(arrays), output_signature=tf.TensorSpec((None, None, 3), tf.uint8)
            )
        dataset = tf.data.Dataset.zip(images, annotations).map(
            lambda image, ann: {
                "image": image,
                "boxes": _dense(ann[0], [-1, 4], tf.float32),
                "labels": _dense(ann[1], [-1], tf.int32),
            }
        )
        # A known length lets fit() size its learning-rate schedule (generators hide it).
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self)))


def _dense(value: Any, shape: list[int], dtype: tf.DType) -> tf.Tensor:
    if isinstance(value, tf.RaggedTensor):
        value = value.to_tensor()
    return tf.reshape(tf.cast(value, dtype), shape)


def _read_image(path: tf.Tensor) -> tf.Tensor:
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read image {path}: {error}") from error
    return height, width


def _class_index(names: list[str] | None, found: list[str], source: str) -> list[str]:
    if names is None:
        return found
    unknown = sorted(set(found) - set(names))
    if unknown:
        raise ValueError(
            f"{source} has objects of unknown classes {unknown}; the classes are {names}"
        )
    return list(names)


def image_path_inside(folder: Path, name: Any, source: str) -> Path:
    """``folder / name`` for an annotation's image name, refusing names that leave ``folder``.

    Absolute names and ``..`` components (``../../etc/hostname``) are ``ValueError``s naming
    the annotation file: an annotation must never make the loader read outside its images.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{source}: an image has no file name (got {name!r})")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or "\x00" in name:
        raise ValueError(
            f"{source}: image file name {name!r} points outside the image folder {folder}"
        )
    candidate = folder / relative
    if not candidate.resolve().is_relative_to(folder.resolve()):  # e.g. through a symlink
        raise ValueError(
            f"{source}: image file name {name!r} resolves outside the image folder {folder}"
        )
    return candidate


def _coco_int(value: Any, what: str, where: str) -> int:
    """An integer field of a COCO record (integral floats and digit strings too, not bools)."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: {what} must be an integer, got {value!r}"[:300])
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{where}: {what} must be an integer, got {value!r}")
    return int(value)


def _coco_records(content: Any, key: str, path: Path) -> list[dict]:
    records = content.get(key)
    if not isinstance(records, list):
        raise ValueError(f"{path} is not a COCO detection file: {key!r} is not a list")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"{path}: {key}[{i}] must be an object, got {type(record).__name__}")
    return records


def _coco_bbox(ann: dict, where: str) -> list[float]:
    bbox = ann.get("bbox")
    if (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
    ):
        raise ValueError(
            f"{where}: 'bbox' must be 4 numbers [x, y, width, height], got {bbox!r}"[:300]
        )
    return [float(v) for v in bbox]


def _read_coco_json(path: Path) -> dict:
    try:
        content = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 JSON (bad byte at offset {error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    except RecursionError:
        raise ValueError(f"{path} is not valid COCO JSON: nested too deeply") from None
    if not isinstance(content, dict):
        raise ValueError(f"{path} is not a COCO detection file: the top level is not an object")
    for key in ("images", "annotations", "categories"):
        if key not in content:
            raise ValueError(f"{path} is not a COCO detection file: no {key!r} list")
    return content


def load_coco(
    annotations: str | os.PathLike,
    image_dir: str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
) -> DetectionSet:
    """A COCO ``instances_*.json`` file -> ``DetectionSet`` (images read from ``image_dir``).

    Classes default to the file's categories in id order. ``bbox`` is COCO's [x, y, w, h];
    crowd regions (``iscrowd``) are skipped and counted, as COCO's own evaluation ignores them.
    Every malformed record (missing ``id`` / ``file_name``, a bbox that is not 4 numbers, a
    file name leading outside ``image_dir``) is a ``ValueError`` naming the file and record.
    """
    path = Path(annotations)
    if not path.is_file():
        raise ValueError(f"COCO annotation file not found: {path}")
    content = _read_coco_json(path)
    categories: dict[int, str] = {}
    for i, category in enumerate(_coco_records(content, "categories", path)):
        where = f"{path}: categories[{i}]"
        if "name" not in category or not isinstance(category["name"], (str, int)):
            raise ValueError(f"{where} has no 'name'")
        categories[_coco_int(category.get("id"), "'id'", where)] = str(category["name"])
    categories = dict(sorted(categories.items()))
    names = _class_index(
        None if class_names is None else list(class_names), list(categories.values()), str(path)
    )
    index = {name: i for i, name in enumerate(names)}
    image_dir = Path(image_dir) if image_dir is not None else path.parent
    image_records = _coco_records(content, "images", path)
    per_image: dict[int, list[dict]] = {}
    for i, img in enumerate(image_records):
        per_image[_coco_int(img.get("id"), "'id'", f"{path}: images[{i}]")] = []
    found = _LoadedImages()
    for i, ann in enumerate(_coco_records(content, "annotations", path)):
        where = f"{path}: annotation {ann.get('id', i)!r}"[:300]
        image_id = _coco_int(ann.get("image_id"), "'image_id'", where)
        if image_id not in per_image:
            raise ValueError(f"{where} refers to unknown image id {image_id}")
        category_id = _coco_int(ann.get("category_id"), "'category_id'", where)
        if category_id not in categories:
            raise ValueError(f"{where} has unknown category_id {category_id}")
        if ann.get("iscrowd", 0):
            found.report.skipped_crowd += 1
            continue
        per_image[image_id].append(
            {"bbox": _coco_bbox(ann, where), "label": index[categories[category_id]]}
        )
    for i, img in enumerate(image_records):
        where = f"{path}: images[{i}]"
        file = image_path_inside(image_dir, img.get("file_name"), where)
        if not file.is_file():
            raise ValueError(f"{path}: image file not found: {file}")
        height = _coco_int(img.get("height") or 0, "'height'", where)
        width = _coco_int(img.get("width") or 0, "'width'", where)
        if height <= 0 or width <= 0:
            height, width = _image_size(file)
        anns = per_image[int(img["id"])]
        xywh = np.array([a["bbox"] for a in anns], np.float32).reshape(-1, 4)
        yxyx = np.stack(
            [xywh[:, 1], xywh[:, 0], xywh[:, 1] + xywh[:, 3], xywh[:, 0] + xywh[:, 2]], -1
        )
        labels = np.array([a["label"] for a in anns], np.int32)
        found.add(file, yxyx, labels, (height, width), f"{path} ({img['file_name']})")
    return found.to_set(names, str(path))


def load_voc(
    root: str | os.PathLike, split: str | None = "train", class_names: Sequence[str] | None = None
) -> DetectionSet:
    """A Pascal VOC folder (``Annotations/``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt``).

    Without the split file (or with ``split=None``) every annotation file is used. Classes default
    to the sorted object names found.
    """
    root = Path(root)
    ann_dir, image_dir = root / "Annotations", root / "JPEGImages"
    if not ann_dir.is_dir():
        raise ValueError(f"{root} is not a Pascal VOC folder: no Annotations/ sub-folder")
    split_file = root / "ImageSets" / "Main" / f"{split}.txt"
    if split is not None and split_file.is_file():
        ids = [line.split()[0] for line in split_file.read_text().splitlines() if line.strip()]
        files = [ann_dir / f"{i}.xml" for i in ids]
    elif split is not None and (root / "ImageSets" / "Main").is_dir():
        raise ValueError(f"{root} has no split file ImageSets/Main/{split}.txt")
    else:
        files = sorted(ann_dir.glob("*.xml"))
    if not files:
        raise ValueError(f"{root} has no annotation files")
    parsed = []
    for file in files:
        if not file.is_file():
            raise ValueError(f"annotation file not found: {file}")
        filename, objects = parse_voc_annotation(file)
        image = image_path_inside(image_dir, filename or f"{file.stem}.jpg", str(file))
        if not image.is_file():
            image = image_dir / f"{file.stem}.jpg"
        if not image.is_file():
            raise ValueError(f"{file}: image file not found in {image_dir}")
        parsed.append((file, image, objects))
    found = sorted({o.name for _, _, objects in parsed for o in objects})
    names = _class_index(None if class_names is None else list(class_names), found, str(root))
    index = {name: i for i, name in enumerate(names)}
    found = _LoadedImages()
    for file, image, objects in parsed:
        yxyx = np.array([[o.ymin, o.xmin, o.ymax, o.xmax] for o in objects], np.float32).reshape(
            -1, 4
        )
        labels = np.array([index[o.name] for o in objects], np.int32)
        found.add(image, yxyx, labels, _image_size(image), str(file))
    return found.to_set(names, str(root))


def load_tfds_detection(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool | None = None,
) -> tuple[tf.data.Dataset, list[str]]:
    """TFDS detection sets (``coco/2017``, ``voc/2007``...) -> ({image, boxes, labels}, names).

    TFDS stores normalised yxyx boxes under ``objects/bbox``; they become pixel boxes here.
    ``download`` as in ``common.data.load_tfds`` (default: download when online).
    """
    dataset, info = load_tfds(
        name, split=split, data_dir=data_dir, as_supervised=False, download=download, with_info=True
    )
    objects = info.features["objects"]
    names = list(objects["label"].names)

    def convert(example: dict[str, Any]) -> dict[str, tf.Tensor]:
        image = example["image"]
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = tf.concat([size, size], axis=0)
        boxes = tf.reshape(tf.cast(example["objects"]["bbox"], tf.float32), [-1, 4]) * scale
        labels = tf.cast(example["objects"]["label"], tf.int32)
        # Prepared TFDS files hold one label per box; tfds.testing.mock_data draws the two
        # sequence lengths independently, so pair them up to the shorter one.
        count = tf.minimum(tf.shape(boxes)[0], tf.shape(labels)[0])
        return {"image": image, "boxes": boxes[:count], "labels": labels[:count]}

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE), names


# ---------------------------------------------------------------------------------- synthetic
def _shape_mask(kind: str, size: int, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    if kind == "circle":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    if kind == "square":
        return (np.abs(yy - cy) <= radius) & (np.abs(xx - cx) <= radius)
    rel = (yy - (cy - radius)) / (2 * radius)  # triangle: apex on top
    return (rel >= 0) & (rel <= 1) & (np.abs(xx - cx) <= rel * radius)


def _covered_fraction(box: list[float], others: list[list[float]]) -> float:
    """Largest share of the smaller box's area that ``box`` shares with any of ``others``."""
    b, o = np.asarray(box), np.asarray(others)
    height = np.clip(np.minimum(b[2], o[:, 2]) - np.maximum(b[0], o[:, 0]), 0, None)
    width = np.clip(np.minimum(b[3], o[:, 3]) - np.maximum(b[1], o[:, 1]), 0, None)
    areas = np.minimum((b[2] - b[0]) * (b[3] - b[1]), (o[:, 2] - o[:, 0]) * (o[:, 3] - o[:, 1]))
    return float((height * width / areas).max())


def make_shape_scenes(
    count: int = 200,
    image_size: int = 128,
    max_objects: int = 4,
    min_size: float = 0.12,
    max_size: float = 0.45,
    max_overlap: float = 0.3,
    clutter: int = 3,
    seed: int = 0,
) -> DetectionSet:
    """Synthetic scenes of circles, squares and triangles with boxes and per-pixel masks.

    Each image holds 1..``max_objects`` shapes of varied size (``min_size``..``max_size`` of the
    image side), random colours on a noisy background, partly overlapping (box IoU up to
    ``max_overlap`` of the smaller box covered, later shapes occlude earlier ones) plus
    ``clutter`` thin random lines that belong to no class. ``masks`` (N, H, W) hold 0 for
    background and 1 + class index elsewhere.
    """
    if count < 1 or image_size < 32 or max_objects < 1:
        raise ValueError("make_shape_scenes needs count >= 1, image_size >= 32, max_objects >= 1")
    if not 0 < min_size <= max_size < 1:
        raise ValueError(f"need 0 < min_size <= max_size < 1, got {min_size}, {max_size}")
    rng = np.random.default_rng(seed)
    images = np.empty((count, image_size, image_size, 3), np.uint8)
    masks = np.zeros((count, image_size, image_size), np.uint8)
    all_boxes, all_labels = [], []
    for i in range(count):
        canvas = rng.uniform(0, 110, size=3) + rng.normal(0, 10, size=(image_size, image_size, 3))
        for _ in range(clutter):
            start, end = rng.uniform(0, image_size, size=(2, 2))
            steps = np.linspace(0, 1, 2 * image_size)[:, None]
            line = np.round(start + (end - start) * steps).astype(int).clip(0, image_size - 1)
            canvas[line[:, 0], line[:, 1]] = rng.uniform(60, 200, size=3)
        boxes: list[list[float]] = []
        labels: list[int] = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            for _attempt in range(20):
                radius = rng.uniform(min_size, max_size) * image_size / 2
                cy, cx = rng.uniform(radius, image_size - radius, size=2)
                box = [cy - radius, cx - radius, cy + radius, cx + radius]
                if not boxes or _covered_fraction(box, boxes) <= max_overlap:
                    break
            else:
                continue
            label = int(rng.integers(0, len(SHAPE_CLASSES)))
            inside = _shape_mask(SHAPE_CLASSES[label], image_size, cy, cx, radius)
            canvas[inside] = rng.uniform(140, 255, size=3)
            masks[i][inside] = label + 1
            rows, cols = np.nonzero(inside)
            boxes.append([rows.min(), cols.min(), rows.max() + 1, cols.max() + 1])
            labels.append(label)
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
        all_boxes.append(np.array(boxes, np.float32).reshape(-1, 4))
        all_labels.append(np.array(labels, np.int32))
    return DetectionSet(list(images), all_boxes, all_labels, list(SHAPE_CLASSES), masks=masks)

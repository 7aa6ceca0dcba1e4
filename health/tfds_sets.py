"""Medical image-classification sets from TensorFlow Datasets: PatchCamelyon histology patches,
CBIS-DDSM mammography patches, Kaggle diabetic retinopathy grades, or any TFDS set with an image
and a class label. A set not on disk is downloaded when the machine is online unless
``download=False`` (see ``common.data.load_tfds``; CBIS-DDSM and the retinopathy set also need
files that TFDS asks to be downloaded by hand).

The result has ``images`` and ``labels`` (class names), so it goes straight into
``MedicalImageClassifier(classes=result.classes, channels=..., window=None, scale=1 / 255)``
``.fit(result)``.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from common.data import load_tfds

#: TFDS name -> readable class names where the set's own are indices ("0", "1", ...).
CLASS_NAMES: dict[str, list[str]] = {
    "patch_camelyon": ["normal", "metastasis"],
    "diabetic_retinopathy_detection": ["no_dr", "mild", "moderate", "severe", "proliferative"],
}
KNOWN_SETS = (
    "patch_camelyon",
    "curated_breast_imaging_ddsm/patches",
    "diabetic_retinopathy_detection",
)


@dataclasses.dataclass
class LabelledImages:
    """``images`` (H, W, C) uint8 arrays (sizes may differ), ``labels`` class names, ``classes``."""

    images: list[np.ndarray]
    labels: list[str]
    classes: list[str]

    def __len__(self) -> int:
        return len(self.images)


def load_tfds_medical(
    name: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    image_key: str = "image",
    label_key: str = "label",
    grayscale: bool = False,
    download: bool | None = None,
) -> LabelledImages:
    """A TFDS image-classification set -> ``LabelledImages`` (at most ``limit`` examples).

    ``name`` is one of ``KNOWN_SETS`` or any TFDS set whose ``image_key`` is an image and
    ``label_key`` a class label; ``grayscale`` keeps one channel (mean of RGB). A missing set
    raises ``DatasetNotOnDiskError`` saying how to prepare it; ``download`` as in
    ``common.data.load_tfds`` (default: download when online).
    """
    import tensorflow_datasets as tfds

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    dataset, info = load_tfds(
        name, split=split, data_dir=data_dir, as_supervised=False, download=download, with_info=True
    )
    features = info.features
    missing = [k for k in (image_key, label_key) if k not in features]
    if missing:
        raise ValueError(
            f"TFDS set {name!r} has no feature(s) {missing}; it has {sorted(features)}"
        )
    label_feature = features[label_key]
    if not isinstance(label_feature, tfds.features.ClassLabel):
        raise ValueError(
            f"{name!r} feature {label_key!r} is {type(label_feature).__name__}, not a class label"
        )
    if not isinstance(features[image_key], tfds.features.Image):
        raise ValueError(
            f"{name!r} feature {image_key!r} is {type(features[image_key]).__name__}, not an image"
        )
    classes = CLASS_NAMES.get(name.split("/")[0]) or [str(n) for n in label_feature.names]
    if len(classes) != label_feature.num_classes:
        classes = [str(n) for n in label_feature.names]
    if limit is not None:
        dataset = dataset.take(limit)
    images, labels = [], []
    for example in dataset.as_numpy_iterator():
        image = np.asarray(example[image_key])
        if grayscale and image.shape[-1] == 3:
            image = image.mean(-1, keepdims=True).round().astype(np.uint8)
        images.append(image)
        labels.append(classes[int(example[label_key])])
    if not images:
        raise ValueError(f"TFDS set {name!r} split {split!r} holds no examples")
    return LabelledImages(images, labels, classes)

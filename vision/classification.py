"""``vision.ImageClassifier``: images in (paths, bytes, PIL, arrays), top-k labels with scores out.

Backbones: a small ResNet built from ``common.layers`` (default, fast on CPU) or
``keras.applications`` MobileNetV3Small / EfficientNetV2B0 (random init or a local weights
file), or a backbone model passed in (``backbone=vision.pretrain_contrastive(images)``), which is
fine-tuned and saved inside the task file. Augmentation lives inside the model and is only
active while training; rescaling too (a passed-in backbone rescales itself), so the model takes
float images in [0, 255] and the exported graph takes encoded image bytes.
``backbone="capsnet"`` is a capsule network (``common.capsules``: dynamic routing, margin loss,
reconstruction decoder); its scores are the class capsules' lengths, which need not sum to one.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common import data as data_lib
from common.capsules import MarginLoss, capsnet_head
from common.config_checks import check_at_least, check_choice, check_interval, class_names
from common.layers import ImageAugmentation, build_small_resnet
from common.losses import LabelSmoothedCrossEntropy
from common.metrics import classification_report
from common.reports import write_evaluation_report
from common.task import Task, TaskConfig
from common.task_parts import FLIPS, ImageInputs, NamedClasses, config_optimizer
from vision import images as images_lib
from vision.data import load_image_folder

BACKBONES = ("small_resnet", "mobilenet_v3_small", "efficientnet_v2_b0", "capsnet")
#: ``config.backbone`` of a classifier built on a backbone model passed in (e.g. self-supervised).
PRETRAINED = "pretrained"


@dataclasses.dataclass
class ImageClassifierConfig(TaskConfig):
    """Options of ``ImageClassifier``; every field is a keyword argument of the constructor."""

    classes: list[str] = dataclasses.field(default_factory=list)
    image_size: int = 64
    backbone: str = "small_resnet"
    backbone_weights: str | None = None
    widths: list[int] = dataclasses.field(default_factory=lambda: [32, 64, 128])
    blocks_per_stage: int = 1
    se_ratio: float = 0.0
    dropout: float = 0.2
    weight_decay: float = 1e-4
    learning_rate: float = 3e-3
    warmup_fraction: float = 0.05
    label_smoothing: float = 0.05
    augment: bool = True
    flip: str | None = "horizontal"
    rotation: float = 0.05
    zoom: float = 0.1
    translation: float = 0.1
    contrast: float = 0.1
    batch_size: int = 32
    top_k: int = 5
    seed: int = 0

    def validate(self) -> None:
        self.classes = class_names(self.classes, "ImageClassifier", "classes=['cat', 'dog']")
        self.widths = [int(w) for w in self.widths]
        check_at_least(self, 16, "image_size")
        check_choice("backbone", self.backbone, (*BACKBONES, PRETRAINED))
        if self.backbone_weights is not None and not Path(self.backbone_weights).is_file():
            raise ValueError(f"backbone weights file not found: {self.backbone_weights}")
        check_choice("flip", self.flip, FLIPS)
        check_interval("dropout", self.dropout, 0.0, 1.0)
        check_at_least(self, 1, "top_k")


class ImageClassifier(NamedClasses, ImageInputs, images_lib.ServesImageBytes, Task):
    """Image classification task following the dlsuite task contract (see docs/design.md)."""

    config_class = ImageClassifierConfig
    monitor = "val_accuracy"
    config: ImageClassifierConfig

    def __init__(self, **options: Any) -> None:
        backbone = options.get("backbone")
        pretrained = backbone if isinstance(backbone, keras.Model) else None
        if pretrained is not None:
            size = pretrained_input_size(pretrained)
            options = {
                **options,
                "backbone": PRETRAINED,
                "image_size": options.get("image_size", size),
            }
            if options["image_size"] != size:
                raise ValueError(
                    f"image_size={options['image_size']} does not match the backbone's "
                    f"{size}x{size} input"
                )
        elif backbone == PRETRAINED:
            raise ValueError(
                "backbone='pretrained' needs the backbone model itself, e.g. "
                "backbone=vision.pretrain_contrastive(images)"
            )
        super().__init__(**options)
        self._pretrained_backbone = pretrained

    # ------------------------------------------------------------------ model
    def _backbone(self, size: int) -> keras.Model:
        c = self.config
        shape = (size, size, 3)
        if c.backbone == PRETRAINED:
            return self._copy_of_pretrained()
        if c.backbone == "small_resnet":
            return build_small_resnet(
                shape,
                widths=tuple(c.widths),
                blocks_per_stage=c.blocks_per_stage,
                se_ratio=c.se_ratio,
            )
        factory = {
            "mobilenet_v3_small": keras.applications.MobileNetV3Small,
            "efficientnet_v2_b0": keras.applications.EfficientNetV2B0,
        }[c.backbone]
        # keras.applications models rescale [0, 255] inputs themselves (include_preprocessing).
        return factory(input_shape=shape, include_top=False, weights=c.backbone_weights)

    def _copy_of_pretrained(self) -> keras.Model:
        """A copy of the backbone passed in (or, after ``load``, the one inside the model), so
        fine-tuning never changes the caller's model."""
        source = getattr(self, "_pretrained_backbone", None)
        if source is None and self._model is not None:
            source = next(layer for layer in self._model.layers if isinstance(layer, keras.Model))
        if source is None:
            raise ValueError("backbone='pretrained' needs the backbone model passed in")
        copy = keras.models.clone_model(source)
        copy.set_weights(source.get_weights())
        return copy

    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        inputs = keras.Input((c.image_size, c.image_size, 3), name="image")
        x = inputs
        if c.augment:
            x = ImageAugmentation(
                flip=c.flip,
                rotation=c.rotation,
                zoom=c.zoom,
                translation=c.translation,
                contrast=c.contrast,
                seed=c.seed,
                name="augmentation",
            )(x)
        if c.backbone in ("small_resnet", "capsnet"):
            x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(x)
        if c.backbone == "capsnet":  # class capsule lengths are the scores
            return keras.Model(inputs, capsnet_head(x, self.num_classes), name="image_classifier")
        x = self._backbone(c.image_size)(x)
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        if c.dropout:
            x = keras.layers.Dropout(c.dropout, name="dropout")(x)
        outputs = keras.layers.Dense(
            self.num_classes, activation="softmax", dtype="float32", name="probabilities"
        )(x)
        return keras.Model(inputs, outputs, name="image_classifier")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        k = min(c.top_k, self.num_classes)
        model.compile(
            optimizer=config_optimizer(c, total_steps),
            loss=MarginLoss()
            if c.backbone == "capsnet"
            else LabelSmoothedCrossEntropy(label_smoothing=c.label_smoothing, sparse=True),
            metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                keras.metrics.SparseTopKCategoricalAccuracy(k=k, name=f"top_{k}_accuracy"),
            ],
        )

    # ------------------------------------------------------------------ data
    def _label_indices(self, labels: Any) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be a 1-D sequence, got shape {labels.shape}")
        if labels.dtype.kind in "USO":
            index = {name: i for i, name in enumerate(self.classes)}
            unknown = sorted({str(v) for v in labels} - set(index))
            if unknown:
                raise ValueError(
                    f"unknown labels {unknown[:5]}; the model's classes are {self.classes}"
                )
            return np.array([index[str(v)] for v in labels], np.int32)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"label indices must be in [0, {self.num_classes - 1}], "
                f"got values from {labels.min()} to {labels.max()}"
            )
        return labels.astype(np.int32)

    def _arrays_dataset(self, images: Any, labels: Any) -> tf.data.Dataset:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., np.newaxis]
        if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
            raise ValueError(
                "expected images of shape (N, H, W), (N, H, W, 1), (N, H, W, 3) or (N, H, W, 4), "
                f"got {images.shape}"
            )
        labels = self._label_indices(labels)
        if len(images) != len(labels):
            raise ValueError(f"got {len(images)} images but {len(labels)} labels")
        if len(images) == 0:
            raise ValueError("the dataset is empty")
        return tf.data.Dataset.from_tensor_slices((images, labels))

    def _source_dataset(self, data: Any) -> tf.data.Dataset:
        """Unbatched (image, label) dataset from a folder, (images, labels) arrays or tf.data."""
        if isinstance(data, (str, os.PathLike)):
            dataset, _ = load_image_folder(data, self.config.image_size, class_names=self.classes)
            return dataset
        if isinstance(data, tf.data.Dataset):
            return data.unbatch() if data_lib.is_batched(data) else data
        if hasattr(data, "images") and hasattr(data, "labels"):
            return self._arrays_dataset(data.images, data.labels)
        if isinstance(data, (tuple, list)) and len(data) == 2:
            return self._arrays_dataset(*data)
        raise ValueError(
            "data must be an image folder path, an (images, labels) pair of arrays or a "
            f"tf.data.Dataset of (image, label), got {type(data).__name__}"
        )

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        size = self.config.image_size

        def preprocess(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return images_lib.to_model_input(image, size), tf.cast(label, tf.int32)

        return data_lib.prepare(
            self._source_dataset(data), batch_size, training, preprocess, seed=self.config.seed
        )

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        data: Any,
        batch_size: int | None = None,
        report_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Accuracy, top-k, macro and per-class P/R/F1, confusion matrix; with ``report_dir`` the
        report files and the confusion-matrix PNG (``common.reports``)."""
        dataset = self.make_dataset(data, batch_size or self.config.batch_size, training=False)
        probabilities, labels = [], []
        for images, y in dataset:
            probabilities.append(self.model(images, training=False).numpy())
            labels.append(y.numpy())
        if not labels:
            raise ValueError("the evaluation data is empty")
        report = classification_report(
            np.concatenate(labels),
            np.concatenate(probabilities),
            self.classes,
            top_k=self.config.top_k,
        )
        if report_dir is not None:
            write_evaluation_report(
                report_dir, report, confusion_classes=self.classes, overwrite=overwrite
            )
        return report

    # ------------------------------------------------------------------ inference
    def _batch_from_inputs(self, inputs: Any) -> tf.Tensor:
        return images_lib.prepare_batch(inputs, self.config.image_size)[0]

    def predict_proba(self, inputs: Any, batch_size: int = 64) -> np.ndarray:
        """Class probabilities (N, C) for the given images (one image gives (1, C))."""
        batch = self._batch_from_inputs(inputs)
        outputs = [
            self.model(batch[i : i + batch_size], training=False).numpy()
            for i in range(0, int(batch.shape[0]), batch_size)
        ]
        return np.concatenate(outputs)

    def predict_batch(self, items: list[Any], top_k: int | None = None) -> list[dict[str, Any]]:
        """Images -> for each: ``label``, ``score`` and the ``top_k`` list of {label, score}."""
        k = min(top_k or self.config.top_k, self.num_classes)
        results = []
        for row in self.predict_proba(items):
            order = np.argsort(-row, kind="stable")[:k]
            top = [{"label": self.classes[i], "score": float(row[i])} for i in order]
            results.append({"label": top[0]["label"], "score": top[0]["score"], "top_k": top})
        return results

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        size, k, model = (
            self.config.image_size,
            min(self.config.top_k, self.num_classes),
            self.model,
        )
        class_names = tf.constant(self.classes)

        def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            probabilities = model(images_lib.decode_batch(image_bytes, size), training=False)
            top = tf.math.top_k(probabilities, k=k)
            return {
                "scores": top.values,
                "classes": tf.gather(class_names, top.indices),
                "probabilities": probabilities,
            }

        return self.image_bytes_endpoint(serve)


def pretrained_input_size(backbone: keras.Model) -> int:
    """The square image size a backbone model takes (``(None, S, S, 3)`` float in [0, 255])."""
    shape = tuple(backbone.input_shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[1] is None or shape[3] != 3:
        raise ValueError(
            f"a backbone model must take (batch, size, size, 3) images, got input shape {shape}"
        )
    if len(backbone.output_shape) != 4:
        raise ValueError(
            "a backbone model must return a (batch, height, width, channels) feature map, got "
            f"output shape {backbone.output_shape}"
        )
    return int(shape[1])

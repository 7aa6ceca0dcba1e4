"""``health.MedicalImageClassifier``: 2-D findings (CT slices, X-rays) with a small ResNet
(``common.layers.build_small_resnet``), binary / multi-class (softmax) or multi-label (sigmoid).

Class imbalance is handled with balanced per-example weights or focal loss. ``evaluate``
reports what clinicians read: ROC-AUC, PR-AUC, sensitivity and specificity at an operating
point, calibration (ECE, reliability plot) and the confusion matrix.
"""

from __future__ import annotations

import dataclasses
import os
from functools import partial
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_choice, check_interval, class_names
from common.layers import build_small_resnet
from common.losses import BinaryFocalLoss, CategoricalFocalLoss
from common.metrics import classification_report
from common.reports import Draw, write_evaluation_report
from common.task import Task, TaskConfig
from common.task_parts import NamedClasses, config_optimizer
from health import io as hio
from health.data import read_label_csv
from health.intensity import check_intensity, intensity_layers
from health.metrics import binary_report, plot_reliability, plot_roc, roc_curves
from health.volume import Volume

LOSSES = ("cross_entropy", "focal")


@dataclasses.dataclass
class MedicalImageClassifierConfig(TaskConfig):
    """Options of ``MedicalImageClassifier``. With two classes and ``multi_label=False`` the
    second class is the finding whose sensitivity / specificity are reported."""

    classes: list[str] = dataclasses.field(default_factory=lambda: ["normal", "finding"])
    multi_label: bool = False
    image_size: int = 64
    channels: int = 1
    window: str | list[float] | None = "abdomen"
    scale: float = 1.0
    offset: float = 0.0
    widths: list[int] = dataclasses.field(default_factory=lambda: [16, 32, 64])
    blocks_per_stage: int = 1
    dropout: float = 0.2
    loss: str = "cross_entropy"
    class_weight: str | None = "balanced"
    threshold: float = 0.5
    flip: bool = True
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    seed: int = 0

    def validate(self) -> None:
        self.classes = class_names(
            self.classes,
            "MedicalImageClassifier",
            "classes=['normal', 'lesion'] (one is enough with multi_label)",
            minimum=1 if self.multi_label else 2,
        )
        self.widths = [int(w) for w in self.widths]
        check_choice("loss", self.loss, LOSSES)
        check_choice("class_weight", self.class_weight, (None, "balanced"))
        check_at_least(self, 8, "image_size")
        check_interval("threshold", self.threshold, 0.0, 1.0, "()")
        if isinstance(self.window, tuple):
            self.window = list(self.window)
        check_intensity(self.window, self.scale)


class MedicalImageClassifier(NamedClasses, Task):
    """Medical image classification following the dlsuite task contract (see docs/design.md)."""

    config_class = MedicalImageClassifierConfig
    monitor = "val_auc"
    config: MedicalImageClassifierConfig

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        shape = (c.image_size, c.image_size, c.channels)
        inputs = keras.Input(shape, name="image")
        x = intensity_layers(inputs, c.window, c.scale, c.offset)
        x = build_small_resnet(shape, c.widths, c.blocks_per_stage, name="backbone")(x)
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        x = keras.layers.Dropout(c.dropout, name="dropout")(x)
        activation = "sigmoid" if c.multi_label else "softmax"
        outputs = keras.layers.Dense(
            len(c.classes), activation=activation, dtype="float32", name="scores"
        )(x)
        return keras.Model(inputs, outputs, name="medical_image_classifier")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        if c.multi_label:
            loss = BinaryFocalLoss() if c.loss == "focal" else keras.losses.BinaryCrossentropy()
            auc = keras.metrics.AUC(multi_label=True, num_labels=len(c.classes), name="auc")
        else:
            loss = (
                CategoricalFocalLoss()
                if c.loss == "focal"
                else keras.losses.CategoricalCrossentropy()
            )
            auc = keras.metrics.AUC(name="auc")
        model.compile(
            optimizer=config_optimizer(c, total_steps, warmup_steps=max(1, total_steps // 20)),
            loss=loss,
            metrics=[auc],
        )

    # ------------------------------------------------------------------ data
    def _resize(self, images: tf.Tensor) -> tf.Tensor:
        """(N, H, W[, C]) float -> (N, S, S, C) bilinear; the same function runs in the export."""
        images = tf.cast(images, tf.float32)
        if images.shape.rank == 3:
            images = images[..., tf.newaxis]
        size = self.config.image_size
        return tf.image.resize(images, (size, size), method="bilinear")

    def _image(self, item: Any) -> np.ndarray:
        if isinstance(item, (str, os.PathLike)):
            item = hio.read(item)
        array = np.asarray(item.array if isinstance(item, Volume) else item, np.float32)
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3 or array.shape[-1] != self.config.channels:
            raise ValueError(
                f"expected a 2-D image with {self.config.channels} channel(s), "
                f"got shape {array.shape}"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError("the image holds NaN or infinite values")
        return self._resize(array[None]).numpy()[0]

    def targets(self, labels: Any) -> np.ndarray:
        """Labels (indices, names, ``a|b`` strings, or multi-hot rows) -> one/multi-hot float32."""
        k = len(self.classes)
        out = np.zeros((len(labels), k), np.float32)
        for i, label in enumerate(labels):
            if isinstance(label, str):
                names = [n for n in label.split("|") if n] if self.config.multi_label else [label]
                unknown = [n for n in names if n not in self.classes]
                if unknown:
                    raise ValueError(f"unknown label(s) {unknown}; classes are {self.classes}")
                out[i, [self.classes.index(n) for n in names]] = 1.0
            elif np.ndim(label) == 1 and self.config.multi_label:
                row = np.asarray(label, np.float32)
                if row.shape != (k,) or not np.isin(row, (0, 1)).all():
                    raise ValueError(f"multi-label rows must be {k} zeros/ones, got {label!r}")
                out[i] = row
            else:
                index = int(label)
                if not 0 <= index < k or index != label:
                    raise ValueError(f"label {label!r} is not a class index 0..{k - 1}")
                out[i, index] = 1.0
        return out

    def arrays(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) pair, a PhantomSet-like object with ``images``/``labels``, or a CSV."""
        if isinstance(data, (str, os.PathLike)) and str(data).endswith(".csv"):
            paths, labels, _ = read_label_csv(data, self.classes)
            data = (paths, labels)
        if hasattr(data, "images") and hasattr(data, "labels"):
            data = (data.images, data.labels)
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError(
                "classification data must be (images, labels), a CSV file or a PhantomSet, "
                f"got {type(data).__name__}"
            )
        images, labels = list(data[0]), list(data[1])
        if len(images) != len(labels) or not images:
            raise ValueError(
                "need as many labels as images (and at least one), "
                f"got {len(images)} and {len(labels)}"
            )
        return np.stack([self._image(x) for x in images]), self.targets(labels)

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        if isinstance(data, tf.data.Dataset):
            return data
        images, targets = self.arrays(data)
        weights = np.ones(len(images), np.float32)
        if training and self.config.class_weight == "balanced" and not self.config.multi_label:
            counts = targets.sum(0)
            per_class = np.where(
                counts > 0, len(targets) / (len(counts) * np.maximum(counts, 1)), 0.0
            )
            weights = (targets @ per_class).astype(np.float32)
        dataset = tf.data.Dataset.from_tensor_slices((images, targets, weights))
        if training:
            dataset = dataset.shuffle(
                len(images), seed=self.config.seed, reshuffle_each_iteration=True
            )
            if self.config.flip:
                seeds = tf.data.Dataset.random(seed=self.config.seed).batch(2)
                dataset = tf.data.Dataset.zip(dataset, seeds).map(
                    lambda ex, seed: (
                        tf.image.stateless_random_flip_left_right(ex[0], seed),
                        ex[1],
                        ex[2],
                    ),
                    num_parallel_calls=tf.data.AUTOTUNE,
                )
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ inference
    def probabilities(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(N, C)`` of a model-input batch (resized, see ``_image``)."""
        return np.concatenate(
            [
                self.model(images[i : i + batch_size], training=False).numpy()
                for i in range(0, len(images), batch_size)
            ]
        )

    def predict_proba(self, inputs: Any, batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(N, C)`` for raw images (one image gives ``(1, C)``)."""
        items = [inputs] if self.is_single_input(inputs) else list(inputs)
        if not items:
            raise ValueError("predict needs at least one image")
        return self.probabilities(np.stack([self._image(x) for x in items]), batch_size)

    def is_single_input(self, inputs: Any) -> bool:
        """One image is an array (2-D or 2-D with channels), a ``Volume`` or a file path."""
        return not isinstance(inputs, (list, tuple))

    def predict_batch(self, items: list[Any], batch_size: int = 64) -> list[dict[str, Any]]:
        """Images (arrays in HU / raw, ``Volume``, DICOM / NIfTI / PNG paths) -> per image the
        ``scores`` per class and the ``labels`` above threshold (multi-label) or the top
        ``label``."""
        results = []
        for row in self.predict_proba(items, batch_size):
            result: dict[str, Any] = {
                "scores": {n: float(p) for n, p in zip(self.classes, row, strict=True)}
            }
            if self.config.multi_label:
                result["labels"] = [
                    n for n, p in zip(self.classes, row, strict=True) if p >= self.config.threshold
                ]
            else:
                result["label"] = self.classes[int(row.argmax())]
            results.append(result)
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        data: Any,
        threshold: float | None = None,
        report_dir: str | os.PathLike | None = None,
        bins: int = 10,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """ROC-AUC, PR-AUC, sensitivity / specificity at ``threshold``, ECE and the confusion
        matrix, per finding; with ``report_dir`` the report files (``common.reports``), the ROC
        curves (``roc.png``) and a reliability plot per finding."""
        images, targets = self.arrays(data)
        probabilities = self.probabilities(images)
        threshold = self.config.threshold if threshold is None else float(threshold)
        report: dict[str, Any] = {"num_examples": len(images)}
        if self.config.multi_label:
            findings = {n: (targets[:, k], probabilities[:, k]) for k, n in enumerate(self.classes)}
        elif len(self.classes) == 2:
            findings = {self.classes[1]: (targets[:, 1], probabilities[:, 1])}
        else:
            report.update(classification_report(targets.argmax(1), probabilities, self.classes))
            findings = {n: (targets[:, k], probabilities[:, k]) for k, n in enumerate(self.classes)}
        report["per_class"] = {
            name: binary_report(y, p, threshold, bins) for name, (y, p) in findings.items()
        }
        for key in ("roc_auc", "pr_auc", "sensitivity", "specificity", "ece"):
            values = [r[key] for r in report["per_class"].values() if np.isfinite(r[key])]
            report[key if len(findings) == 1 else f"macro_{key}"] = (
                float(np.mean(values)) if values else float("nan")
            )
        if report_dir is not None:
            labels = targets if self.config.multi_label else targets.argmax(1)
            curves = roc_curves(labels, probabilities, self.classes)
            pictures: dict[str, Draw] = {
                "roc.png": lambda path: plot_roc(curves, path, threshold=threshold)
            }
            for name, (y, p) in findings.items():
                pictures[f"reliability_{name}.png"] = partial(
                    plot_reliability, y, p, bins=bins, title=f"{name} calibration"
                )
            write_evaluation_report(report_dir, report, pictures, overwrite=overwrite)
        return report

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        names = tf.constant(self.classes)

        def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
            probabilities = self.model(self._resize(image), training=False)
            top = tf.math.top_k(probabilities, k=len(self.classes))
            return {
                "scores": top.values,
                "classes": tf.gather(names, top.indices),
                "probabilities": probabilities,
            }

        shape = [None, None, None] + ([self.config.channels] if self.config.channels > 1 else [])
        return {"serving_default": (serve, [tf.TensorSpec(shape, tf.float32, name="image")])}

    def warmup_inputs(self) -> dict[str, Any]:
        size = self.config.image_size
        shape = (1, size, size) + ((self.config.channels,) if self.config.channels > 1 else ())
        return {"image": np.zeros(shape, np.float32)}

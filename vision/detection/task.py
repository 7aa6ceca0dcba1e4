"""``vision.ObjectDetector``: a one-stage, anchor-free (FCOS-style) detector.

Small residual backbone (``common.layers``) -> feature pyramid (strides 8, 16, 32) -> one head
shared by all levels predicting per point: class logits, box distances (left, top, right,
bottom) and centre-ness. Targets come from ``vision.detection.boxes.assign_targets`` in the input
pipeline; the loss is sigmoid focal + GIoU (or smooth L1) + centre-ness BCE
(``vision.detection.losses.DenseDetectionLoss``). Decoding and per-class non-max suppression run in
the graph (``tf.image.combined_non_max_suppression``), so the export takes encoded image bytes
and answers with the TF Object Detection API outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_choice, check_interval, class_names
from common.data import augmented_batches
from common.layers import ConvBNAct, ResidualBlock
from common.reports import write_evaluation_report
from common.task import Task, TaskConfig
from common.task_parts import FLIPS, ImageInputs, NamedClasses, config_optimizer
from vision import images as images_lib
from vision.detection import boxes as boxes_lib
from vision.detection.data import DetectionSet, load_coco, load_voc
from vision.detection.losses import DenseDetectionLoss
from vision.draw import draw_detections, sample_pictures

SAMPLE_SCORE = 0.3  # the least score a detection drawn in a report has


@dataclasses.dataclass
class ObjectDetectorConfig(TaskConfig):
    """Options of ``ObjectDetector``; every field is a keyword argument of the constructor."""

    classes: list[str] = dataclasses.field(default_factory=list)
    image_size: int = 128
    widths: list[int] = dataclasses.field(default_factory=lambda: [16, 32, 64, 96, 128])
    strides: list[int] = dataclasses.field(default_factory=lambda: [8, 16, 32])
    fpn_width: int = 64
    head_convs: int = 2
    range_scale: float = 4.0
    center_radius: float = 1.5
    box_loss: str = "giou"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    flip: str | None = "horizontal"
    batch_size: int = 16
    max_detections: int = 100
    iou_threshold: float = 0.6
    score_threshold: float = 0.05
    seed: int = 0

    def validate(self) -> None:
        self.classes = class_names(self.classes, "ObjectDetector", "classes=['cell']", minimum=1)
        self.widths = [int(w) for w in self.widths]
        self.strides = [int(s) for s in self.strides]
        if not self.strides or any(s not in (4, 8, 16, 32, 64) for s in self.strides):
            raise ValueError(f"strides must be chosen from 4, 8, 16, 32, 64, got {self.strides}")
        if any(b != 2 * a for a, b in zip(self.strides, self.strides[1:], strict=False)):
            raise ValueError(f"strides must double from level to level, got {self.strides}")
        if len(self.widths) < int(math.log2(max(self.strides))):
            raise ValueError(
                f"widths needs one entry per backbone stage up to stride {max(self.strides)} "
                f"({int(math.log2(max(self.strides)))} entries), got {len(self.widths)}"
            )
        if self.image_size < 32 or self.image_size % max(self.strides):
            raise ValueError(
                f"image_size must be a multiple of the largest stride {max(self.strides)}, "
                f"got {self.image_size}"
            )
        check_choice("box_loss", self.box_loss, ("giou", "smooth_l1"))
        check_choice("flip", self.flip, FLIPS)
        check_interval("iou_threshold", self.iou_threshold, 0.0, 1.0, "(]")
        check_at_least(self, 1, "max_detections")


class ObjectDetector(NamedClasses, ImageInputs, images_lib.ServesImageBytes, Task):
    """Object detection task following the dlsuite task contract (see docs/design.md)."""

    config_class = ObjectDetectorConfig
    config: ObjectDetectorConfig

    def _points(self) -> dict[str, np.ndarray]:
        c = self.config
        return boxes_lib.feature_points(c.image_size, c.strides, c.range_scale)

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        inputs = keras.Input((c.image_size, c.image_size, 3), name="image")
        x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
        x = ConvBNAct(c.widths[0], 3, strides=2, name="stem")(x)
        features = {}
        for i, width in enumerate(c.widths[1 : int(math.log2(max(c.strides)))]):
            x = ResidualBlock(width, strides=2, name=f"stage{i + 2}")(x)
            features[2 ** (i + 2)] = x
        # Feature pyramid: 1x1 laterals, top-down upsample + add, 3x3 smoothing per level.
        pyramid: dict[int, Any] = {}
        for stride in sorted(c.strides, reverse=True):
            lateral = keras.layers.Conv2D(c.fpn_width, 1, name=f"lateral_{stride}")(
                features[stride]
            )
            if pyramid:
                upper = keras.layers.UpSampling2D(2, name=f"up_{stride}")(pyramid[stride * 2])
                lateral = keras.layers.Add(name=f"merge_{stride}")([lateral, upper])
            pyramid[stride] = lateral
        pyramid = {s: ConvBNAct(c.fpn_width, 3, name=f"smooth_{s}")(p) for s, p in pyramid.items()}

        # One head shared by every level (GroupNorm: statistics are per level, not mixed).
        def tower(name: str) -> list[keras.layers.Layer]:
            layers = []
            for i in range(c.head_convs):
                layers += [
                    keras.layers.Conv2D(c.fpn_width, 3, padding="same", name=f"{name}_conv{i}"),
                    keras.layers.GroupNormalization(8, name=f"{name}_gn{i}"),
                    keras.layers.Activation("relu", name=f"{name}_relu{i}"),
                ]
            return layers

        class_tower, box_tower = tower("class_tower"), tower("box_tower")
        prior = -math.log((1 - 0.01) / 0.01)  # start every class at p=0.01 (RetinaNet)
        class_out = keras.layers.Conv2D(
            self.num_classes,
            3,
            padding="same",
            bias_initializer=keras.initializers.Constant(prior),
            name="class_logits",
        )
        box_out = keras.layers.Conv2D(4, 3, padding="same", name="box_distances")
        centre_out = keras.layers.Conv2D(1, 3, padding="same", name="centerness")
        softplus = keras.layers.Activation("softplus", name="positive_distances")
        level_outputs = []
        for stride in sorted(c.strides):
            cells = c.image_size // stride
            a = b = pyramid[stride]
            for layer in class_tower:
                a = layer(a)
            for layer in box_tower:
                b = layer(b)
            level = keras.layers.Concatenate(name=f"level_{stride}")(
                [class_out(a), softplus(box_out(b)), centre_out(b)]
            )
            level_outputs.append(
                keras.layers.Reshape((cells * cells, self.num_classes + 5), name=f"flat_{stride}")(
                    level
                )
            )
        outputs = keras.layers.Concatenate(axis=1, dtype="float32", name="dense_predictions")(
            level_outputs
        )
        return keras.Model(inputs, outputs, name="object_detector")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        model.compile(
            optimizer=config_optimizer(c, total_steps),
            loss=DenseDetectionLoss(
                self.num_classes, box_loss=c.box_loss, gamma=c.focal_gamma, alpha=c.focal_alpha
            ),
        )

    # ------------------------------------------------------------------ data
    def _source_dataset(self, data: Any) -> tf.data.Dataset:
        """Unbatched ``{"image", "boxes", "labels"}`` from a DetectionSet, a COCO JSON file, a VOC
        folder, an ``(images, boxes, labels)`` triple or a tf.data.Dataset of such dicts."""
        if isinstance(data, (str, os.PathLike)):
            path = str(data)
            data = (
                load_coco(path, class_names=self.classes)
                if path.endswith(".json")
                else load_voc(path, split=None, class_names=self.classes)
            )
        if isinstance(data, (tuple, list)) and len(data) == 3:
            data = DetectionSet(list(data[0]), list(data[1]), list(data[2]), self.classes)
        if isinstance(data, DetectionSet):
            if data.class_names != self.classes:
                raise ValueError(
                    f"the data's classes {data.class_names} differ from the detector's "
                    f"{self.classes}"
                )
            return data.to_dataset()
        if isinstance(data, tf.data.Dataset):
            spec = data.element_spec
            if not (isinstance(spec, dict) and {"image", "boxes", "labels"} <= set(spec)):
                raise ValueError(
                    'a detection tf.data.Dataset must yield {"image", "boxes", "labels"} dicts'
                )
            return data
        raise ValueError(
            "data must be a DetectionSet, a COCO .json file, a VOC folder, an (images, boxes, "
            f"labels) triple or a tf.data.Dataset, got {type(data).__name__}"
        )

    def _resize_example(self, example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Resize the image to the model input and express boxes normalised to the image."""
        image = example["image"]
        size = tf.cast(tf.shape(image)[:2], tf.float32)
        boxes = tf.reshape(tf.cast(example["boxes"], tf.float32), [-1, 4])
        labels = tf.reshape(tf.cast(example["labels"], tf.int32), [-1])
        tf.debugging.assert_less(
            labels, self.num_classes, message="label index out of range for the detector's classes"
        )
        return {
            "image": images_lib.to_model_input(image, self.config.image_size),
            "boxes": boxes / tf.concat([size, size], 0),
            "labels": labels,
            "size": tf.cast(size, tf.int32),
        }

    def _flip(self, example: dict[str, tf.Tensor], seed: tf.Tensor) -> dict[str, tf.Tensor]:
        image, boxes = example["image"], example["boxes"]
        modes = self.config.flip or ""
        if "horizontal" in modes:
            flip = tf.random.stateless_uniform([], seed) < 0.5
            image = tf.where(flip, image[:, ::-1], image)
            boxes = tf.where(
                flip,
                tf.stack([boxes[:, 0], 1 - boxes[:, 3], boxes[:, 2], 1 - boxes[:, 1]], -1),
                boxes,
            )
        if "vertical" in modes:
            flip = tf.random.stateless_uniform([], seed + 1) < 0.5
            image = tf.where(flip, image[::-1], image)
            boxes = tf.where(
                flip,
                tf.stack([1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0], boxes[:, 3]], -1),
                boxes,
            )
        return {**example, "image": image, "boxes": boxes}

    def _targets(self, example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        p = self._points()
        targets = boxes_lib.assign_targets(
            example["boxes"] * float(self.config.image_size),
            example["labels"],
            tf.constant(p["points"]),
            tf.constant(p["strides"]),
            tf.constant(p["ranges"]),
            self.num_classes,
            self.config.center_radius,
        )
        return example["image"], targets

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        """(image, packed targets) batches for ``model.fit``; flips happen after the cache."""
        return augmented_batches(
            self._source_dataset(data),
            batch_size,
            training,
            self._resize_example,
            self._targets,
            self._flip if self.config.flip else None,
            seed=self.config.seed,
        )

    # ------------------------------------------------------------------ inference
    def _detect(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """Model-input batch (B, S, S, 3) -> NMS'd detections with boxes normalised to the image."""
        c, p = self.config, self._points()
        return boxes_lib.postprocess(
            self.model(images, training=False),
            tf.constant(p["points"]),
            tf.constant(p["strides"]),
            c.image_size,
            self.num_classes,
            max_detections=c.max_detections,
            iou_threshold=c.iou_threshold,
            score_threshold=c.score_threshold,
        )

    def _inputs(self, inputs: Any) -> tuple[tf.Tensor, np.ndarray]:
        batch, sizes = images_lib.prepare_batch(inputs, self.config.image_size)
        return batch, np.array(sizes, np.float32)

    def predict_batch(
        self, items: list[Any], score_threshold: float | None = None, batch_size: int = 32
    ) -> list[dict[str, Any]]:
        """Images -> for each: ``boxes`` (K, 4) [ymin, xmin, ymax, xmax] in pixels of the original
        image, ``classes`` (K,) indices, ``labels`` (class names), ``scores`` (K,), best first."""
        threshold = (
            self.config.score_threshold if score_threshold is None else float(score_threshold)
        )
        images, sizes = self._inputs(items)
        results = []
        for start in range(0, len(sizes), batch_size):
            out = {
                k: v.numpy() for k, v in self._detect(images[start : start + batch_size]).items()
            }
            for j, (height, width) in enumerate(sizes[start : start + batch_size]):
                n = int(out["num_detections"][j])
                keep = out["detection_scores"][j, :n] >= threshold
                classes = out["detection_classes"][j, :n][keep]
                results.append(
                    {
                        "boxes": out["detection_boxes"][j, :n][keep]
                        * np.array([height, width, height, width]),
                        "classes": classes,
                        "labels": [self.classes[i] for i in classes],
                        "scores": out["detection_scores"][j, :n][keep],
                    }
                )
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        data: Any,
        batch_size: int | None = None,
        report_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """COCO metrics with pycocotools: mAP@[.5:.95], mAP@.5, mAP@.75, per-class AP and AP50,
        on boxes in original-image pixels; with ``report_dir`` the report files and sample
        detections drawn on their images."""
        dataset = self._source_dataset(data).map(
            self._resize_example, num_parallel_calls=tf.data.AUTOTUNE
        )
        dataset = dataset.padded_batch(
            batch_size or self.config.batch_size,
            padding_values={"image": 0.0, "boxes": 0.0, "labels": -1, "size": 0},
        )
        images_info, annotations, detections = [], [], []
        for batch in dataset:
            out = {k: v.numpy() for k, v in self._detect(batch["image"]).items()}
            for j, size in enumerate(batch["size"].numpy()):
                image_id = len(images_info) + 1
                scale = np.array([size[0], size[1], size[0], size[1]], np.float64)
                images_info.append({"id": image_id, "height": int(size[0]), "width": int(size[1])})
                labels = batch["labels"].numpy()[j]
                for box, label in zip(
                    batch["boxes"].numpy()[j][labels >= 0] * scale, labels[labels >= 0], strict=True
                ):
                    annotations.append(
                        {
                            "id": len(annotations) + 1,
                            "image_id": image_id,
                            "category_id": int(label) + 1,
                            "bbox": _xywh(box),
                            "area": float((box[2] - box[0]) * (box[3] - box[1])),
                            "iscrowd": 0,
                        }
                    )
                n = int(out["num_detections"][j])
                for box, score, cls in zip(
                    out["detection_boxes"][j, :n] * scale,
                    out["detection_scores"][j, :n],
                    out["detection_classes"][j, :n],
                    strict=True,
                ):
                    detections.append([image_id, *_xywh(box), float(score), int(cls) + 1])
        if not images_info:
            raise ValueError("the evaluation data is empty")
        report = coco_metrics(images_info, annotations, detections, self.classes)
        if report_dir is not None:
            threshold = max(self.config.score_threshold, SAMPLE_SCORE)
            examples = self._source_dataset(data)
            pictures = sample_pictures(
                self, examples, draw_detections, "detections", score_threshold=threshold
            )
            write_evaluation_report(report_dir, report, pictures, overwrite=overwrite)
        return report

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        size = self.config.image_size
        class_names = tf.constant(self.classes)

        def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            images = images_lib.decode_batch(image_bytes, size)
            out = self._detect(images)
            return {
                "detection_boxes": out["detection_boxes"],
                "detection_scores": out["detection_scores"],
                # TF Object Detection API convention: float class ids starting at 1.
                "detection_classes": tf.cast(out["detection_classes"] + 1, tf.float32),
                "detection_class_names": tf.gather(class_names, out["detection_classes"]),
                "num_detections": tf.cast(out["num_detections"], tf.float32),
            }

        return self.image_bytes_endpoint(serve)


def _xywh(box: np.ndarray) -> list[float]:
    return [float(box[1]), float(box[0]), float(box[3] - box[1]), float(box[2] - box[0])]


def coco_metrics(
    images: list[dict], annotations: list[dict], detections: list[list[float]], classes: list[str]
) -> dict[str, Any]:
    """Run pycocotools' COCOeval (bbox) -> mAP, mAP@.5, mAP@.75, size-wise AP and per-class AP."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ground_truth = COCO()
    ground_truth.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": name} for i, name in enumerate(classes)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth.createIndex()
    report: dict[str, Any] = {
        "num_images": len(images),
        "num_objects": len(annotations),
        "num_detections": len(detections),
    }
    if not detections or not annotations:
        report.update(
            {
                "mAP": 0.0,
                "mAP_50": 0.0,
                "mAP_75": 0.0,
                "per_class": {n: {"AP": 0.0, "AP_50": 0.0} for n in classes},
            }
        )
        return report
    with contextlib.redirect_stdout(io.StringIO()):
        results = ground_truth.loadRes(np.array(detections, np.float64))
        evaluator = COCOeval(ground_truth, results, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = evaluator.stats
    report.update(
        {
            "mAP": float(stats[0]),
            "mAP_50": float(stats[1]),
            "mAP_75": float(stats[2]),
            "mAP_small": float(stats[3]),
            "mAP_medium": float(stats[4]),
            "mAP_large": float(stats[5]),
        }
    )
    precision = evaluator.eval["precision"]  # (iou thresholds, recall, class, area, max dets)
    per_class = {}
    for k, name in enumerate(classes):
        all_ious = precision[:, :, k, 0, -1]
        at_50 = precision[0, :, k, 0, -1]
        per_class[name] = {
            "AP": float(all_ious[all_ious > -1].mean()) if (all_ious > -1).any() else float("nan"),
            "AP_50": float(at_50[at_50 > -1].mean()) if (at_50 > -1).any() else float("nan"),
        }
    report["per_class"] = per_class
    return report

"""``vision.ImageSegmenter``: per-pixel classes with a U-Net or a DeepLabV3+ (``common.unet``).

The model sees images resized to ``image_size``; probabilities are resized back (bilinear) to
each input's own size before the arg-max, in ``predict`` and in the exported graph alike, so
masks always come back at the size of the image that was sent.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_choice, class_names
from common.data import augmented_batches
from common.losses import CategoricalFocalLoss, DiceLoss
from common.reports import write_evaluation_report
from common.task import Task, TaskConfig
from common.task_parts import FLIPS, ImageInputs, NamedClasses, config_optimizer
from common.unet import build_deeplabv3plus, build_unet
from vision import images as images_lib
from vision.draw import overlay_mask, sample_pictures
from vision.segmentation.data import SegmentationSet, check_mask

ARCHITECTURES = ("unet", "deeplabv3plus")
LOSSES = ("cross_entropy", "dice", "focal")


@dataclasses.dataclass
class ImageSegmenterConfig(TaskConfig):
    """Options of ``ImageSegmenter``; ``classes`` includes the background class if there is one."""

    classes: list[str] = dataclasses.field(default_factory=list)
    image_size: int = 128
    architecture: str = "unet"
    widths: list[int] = dataclasses.field(default_factory=lambda: [16, 32, 64, 128])
    aspp_filters: int = 64
    dropout: float = 0.1
    loss: str = "cross_entropy"
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    flip: str | None = "horizontal"
    batch_size: int = 16
    seed: int = 0

    def validate(self) -> None:
        self.classes = class_names(self.classes, "ImageSegmenter", "['background', 'cell']")
        self.widths = [int(w) for w in self.widths]
        check_choice("architecture", self.architecture, ARCHITECTURES)
        check_choice("loss", self.loss, LOSSES)
        check_choice("flip", self.flip, FLIPS)
        depth = len(self.widths) if self.architecture == "deeplabv3plus" else len(self.widths) - 1
        if self.image_size < 16 or self.image_size % (2**depth):
            raise ValueError(
                f"image_size must be a multiple of {2**depth} for {len(self.widths)} "
                f"{self.architecture} stages, got {self.image_size}"
            )


class ImageSegmenter(NamedClasses, ImageInputs, images_lib.ServesImageBytes, Task):
    """Semantic segmentation task following the dlsuite task contract (see docs/design.md)."""

    config_class = ImageSegmenterConfig
    monitor = "val_mean_iou"
    config: ImageSegmenterConfig

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        shape = (c.image_size, c.image_size, 3)
        if c.architecture == "unet":
            network = build_unet(shape, self.num_classes, c.widths, dropout=c.dropout)
        else:
            network = build_deeplabv3plus(
                shape, self.num_classes, c.widths, aspp_filters=c.aspp_filters
            )
        inputs = keras.Input(shape, name="image")
        x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
        return keras.Model(inputs, network(x), name="image_segmenter")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c = self.config
        loss = {
            "cross_entropy": lambda: keras.losses.SparseCategoricalCrossentropy(
                name="cross_entropy"
            ),
            "dice": lambda: DiceLoss(sparse=True, num_classes=self.num_classes),
            "focal": lambda: CategoricalFocalLoss(sparse=True),
        }[c.loss]()
        model.compile(
            optimizer=config_optimizer(c, total_steps),
            loss=loss,
            metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="pixel_accuracy"),
                keras.metrics.MeanIoU(self.num_classes, sparse_y_pred=False, name="mean_iou"),
            ],
        )

    # ------------------------------------------------------------------ data
    def _source_dataset(self, data: Any) -> tf.data.Dataset:
        """Unbatched ``{"image", "mask"}`` from a SegmentationSet, (images, masks) or tf.data."""
        if isinstance(data, (tuple, list)) and len(data) == 2:
            data = SegmentationSet(list(data[0]), list(data[1]), self.classes)
        if isinstance(data, SegmentationSet):
            if len(data.class_names) != self.num_classes:
                raise ValueError(
                    f"the data has {len(data.class_names)} classes {data.class_names}, "
                    f"the segmenter {self.num_classes} {self.classes}"
                )
            for i, (image, mask) in enumerate(zip(data.images, data.masks, strict=True)):
                check_mask(mask, image.shape[:2], self.num_classes, f"mask {i}")
            return data.to_dataset()
        if isinstance(data, tf.data.Dataset):
            spec = data.element_spec
            if not (isinstance(spec, dict) and {"image", "mask"} <= set(spec)):
                raise ValueError(
                    'a segmentation tf.data.Dataset must yield {"image", "mask"} dicts'
                )
            return data
        raise ValueError(
            "data must be a SegmentationSet, an (images, masks) pair or a tf.data.Dataset of "
            f'{{"image", "mask"}}, got {type(data).__name__}'
        )

    def _resize(self, example: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        size = self.config.image_size
        mask = tf.cast(example["mask"], tf.int32)
        tf.debugging.assert_equal(
            tf.shape(mask)[:2],
            tf.shape(example["image"])[:2],
            message="mask size differs from its image",
        )
        tf.debugging.assert_less(mask, self.num_classes, message="mask value outside the classes")
        small = tf.image.resize(mask[..., tf.newaxis], (size, size), method="nearest")[..., 0]
        return {"image": images_lib.to_model_input(example["image"], size), "mask": small}

    def _flip(self, example: dict[str, tf.Tensor], seed: tf.Tensor) -> dict[str, tf.Tensor]:
        image, mask = example["image"], example["mask"]
        modes = self.config.flip or ""
        if "horizontal" in modes:
            flip = tf.random.stateless_uniform([], seed) < 0.5
            image, mask = tf.where(flip, image[:, ::-1], image), tf.where(flip, mask[:, ::-1], mask)
        if "vertical" in modes:
            flip = tf.random.stateless_uniform([], seed + 1) < 0.5
            image, mask = tf.where(flip, image[::-1], image), tf.where(flip, mask[::-1], mask)
        return {"image": image, "mask": mask}

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        return augmented_batches(
            self._source_dataset(data),
            batch_size,
            training,
            self._resize,
            lambda example: (example["image"], example["mask"]),
            self._flip if self.config.flip else None,
            seed=self.config.seed,
        )

    # ------------------------------------------------------------------ inference
    @staticmethod
    def _to_size(probabilities: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
        """(S, S, C) probabilities -> (H, W, C) at an image's own size (bilinear)."""
        return tf.image.resize(probabilities, size, method="bilinear")

    def _inputs(self, inputs: Any) -> tuple[tf.Tensor, list[tuple[int, int]]]:
        return images_lib.prepare_batch(inputs, self.config.image_size)

    def predict_batch(
        self, items: list[Any], return_probabilities: bool = False, batch_size: int = 16
    ) -> list[dict[str, Any]]:
        """Images -> for each: ``mask`` (H, W) int32 class indices at the image's own size, the
        ``classes`` present, and with ``return_probabilities`` the (H, W, C) ``probabilities``."""
        images, sizes = self._inputs(items)
        results = []
        for start in range(0, len(sizes), batch_size):
            probabilities = self.model(images[start : start + batch_size], training=False)
            for j, size in enumerate(sizes[start : start + batch_size]):
                full = self._to_size(probabilities[j], tf.constant(size, tf.int32))
                mask = tf.argmax(full, axis=-1, output_type=tf.int32).numpy()
                result = {"mask": mask, "classes": [self.classes[i] for i in np.unique(mask)]}
                if return_probabilities:
                    result["probabilities"] = full.numpy()
                results.append(result)
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        data: Any,
        batch_size: int | None = None,
        report_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Mean IoU, per-class IoU and Dice, pixel accuracy, scored at each mask's own size; with
        ``report_dir`` the report files, the pixel confusion matrix and sample overlays."""
        size = self.config.image_size
        dataset = (
            self._source_dataset(data)
            .map(
                lambda ex: {
                    "image": images_lib.to_model_input(ex["image"], size),
                    "mask": tf.cast(ex["mask"], tf.int32),
                    "size": tf.shape(ex["mask"])[:2],
                },
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .padded_batch(
                batch_size or self.config.batch_size,
                padding_values={"image": 0.0, "mask": -1, "size": 0},
            )
        )
        k = self.num_classes
        confusion = np.zeros((k, k), np.int64)
        for batch in dataset:
            probabilities = self.model(batch["image"], training=False)
            for j, (height, width) in enumerate(batch["size"].numpy()):
                full = self._to_size(probabilities[j], tf.constant([height, width], tf.int32))
                predicted = tf.argmax(full, axis=-1, output_type=tf.int32).numpy().ravel()
                truth = batch["mask"].numpy()[j, :height, :width].ravel()
                if truth.size and (truth.min() < 0 or truth.max() >= k):
                    raise ValueError(f"mask values must be class indices 0..{k - 1}")
                confusion += np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
        if not confusion.sum():
            raise ValueError("the evaluation data is empty")
        report = segmentation_report(confusion, self.classes)
        if report_dir is not None:
            examples = self._source_dataset(data)
            pictures = sample_pictures(self, examples, overlay_mask, "overlay", key="mask")
            write_evaluation_report(
                report_dir, report, pictures, confusion_classes=self.classes, overwrite=overwrite
            )
        return report

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        image_size, num_classes = self.config.image_size, self.num_classes

        def decode(one: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image = tf.io.decode_image(one, channels=3, expand_animations=False)
            image.set_shape([None, None, 3])
            return images_lib.to_model_input(image, image_size), tf.shape(image)[:2]

        def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            images, sizes = tf.map_fn(
                decode,
                image_bytes,
                fn_output_signature=(
                    tf.TensorSpec((image_size, image_size, 3), tf.float32),
                    tf.TensorSpec((2,), tf.int32),
                ),
            )
            probabilities = self.model(images, training=False)
            biggest = tf.reduce_max(sizes, axis=0)

            def restore(args: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
                probs, size = args
                full = self._to_size(probs, size)
                mask = tf.argmax(full, axis=-1, output_type=tf.int32)
                pad = [[0, biggest[0] - size[0]], [0, biggest[1] - size[1]]]
                return (
                    tf.pad(mask, pad, constant_values=-1),
                    tf.pad(full, [*pad, [0, 0]]),
                )

            masks, full_probabilities = tf.map_fn(
                restore,
                (probabilities, sizes),
                fn_output_signature=(
                    tf.TensorSpec((None, None), tf.int32),
                    tf.TensorSpec((None, None, num_classes), tf.float32),
                ),
            )
            return {"mask": masks, "probabilities": full_probabilities, "image_size": sizes}

        return self.image_bytes_endpoint(serve)


def segmentation_report(confusion: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Confusion matrix (truth rows, prediction columns) -> mean IoU, per-class IoU/Dice, accuracy.

    Classes absent from both truth and prediction have no IoU and are left out of the means.
    """
    true_positive = np.diag(confusion).astype(np.float64)
    truth, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    union = truth + predicted - true_positive
    present = union > 0
    iou = np.where(present, true_positive / np.maximum(union, 1), np.nan)
    dice = np.where(present, 2 * true_positive / np.maximum(truth + predicted, 1), np.nan)
    return {
        "mean_iou": float(np.nanmean(iou)),
        "pixel_accuracy": float(true_positive.sum() / confusion.sum()),
        "mean_dice": float(np.nanmean(dice)),
        "per_class": {
            name: {"iou": float(iou[i]), "dice": float(dice[i]), "pixels": int(truth[i])}
            for i, name in enumerate(classes)
        },
        "num_pixels": int(confusion.sum()),
        "confusion_matrix": confusion.tolist(),
    }

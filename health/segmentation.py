"""``health.MedicalSegmenter``: 2-D or 3-D U-Net (``common.unet``) on HU images, trained with
Dice + cross-entropy on foreground-over-sampled patches, predicting with sliding windows.

The model is fully convolutional and takes raw HU (or raw intensities); the window is inside the
model. ``predict`` runs sliding-window inference over inputs larger than the patch and returns
label maps at the input's own size; the exported ``serving_default`` segments batches of 2-D
slices (or 3-D volumes for a 3-D model) whole, padded to the network's multiple in the graph;
volumes larger than memory go through the Python sliding-window API.

Options that change what is served are config fields, applied the same in ``predict`` and in the
export graph: ``threshold`` (two classes: foreground where its probability >= threshold, instead
of the argmax), ``test_time_symmetries`` (mean over 1, 4 flips or 8 symmetries of the square)
and ``preprocessing="fundus"`` (retinal vessels, ``health.fundus``: the model learns on the
green channel after CLAHE and z-score inside the field of view; ``preprocess`` gives those
images for training, ``fit`` / ``evaluate`` on ``(rgb_images, masks)`` apply it, ``predict`` takes
RGB arrays, image files or bytes, and the export serves encoded image bytes (``image_bytes``,
``serving_default``) or RGB floats 0-255 (``rgb``) and returns ``mask`` and ``probabilities``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.losses import DiceLoss
from common.task import Task, TaskConfig
from common.task_parts import NamedClasses, config_optimizer
from common.unet import build_unet
from health import fundus
from health import io as hio
from health.data import Cases, PatchSampler, as_cases
from health.intensity import check_intensity, intensity_layers
from health.losses import DiceCrossEntropyLoss
from health.metrics import segmentation_scores
from health.sliding_window import sliding_window_inference
from health.volume import Volume

LOSSES = ("dice_ce", "dice", "cross_entropy")
PREPROCESSING = (None, "fundus")


@dataclasses.dataclass
class MedicalSegmenterConfig(TaskConfig):
    """Options of ``MedicalSegmenter``; ``patch_size`` has 2 (2-D) or 3 (3-D) sides."""

    classes: list[str] = dataclasses.field(default_factory=lambda: ["background", "foreground"])
    patch_size: list[int] = dataclasses.field(default_factory=lambda: [64, 64])
    channels: int = 1
    widths: list[int] = dataclasses.field(default_factory=lambda: [16, 32, 64])
    dropout: float = 0.0
    window: str | list[float] | None = "abdomen"
    scale: float = 1.0
    offset: float = 0.0
    loss: str = "dice_ce"
    foreground_fraction: float = 0.33
    balance_classes: bool = False
    patches_per_epoch: int = 256
    flip: bool = True
    overlap: float = 0.5
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 8
    seed: int = 0
    # served options (predict and export alike)
    threshold: float | None = None  # two classes: foreground probability >= threshold
    test_time_symmetries: int = 1  # 1, 4 (flips) or 8 (flips of the image and its transpose)
    preprocessing: str | None = None  # "fundus": health.fundus (2-D, one channel, window None)
    fov_threshold: float = 20.0  # fundus: red channel (0-255) above it is the field of view
    clahe_tiles: list[int] = dataclasses.field(default_factory=lambda: [8, 8])
    clahe_clip: float = 2.0

    def validate(self) -> None:
        self.classes = [str(c) for c in self.classes]
        self.patch_size = [int(p) for p in self.patch_size]
        self.widths = [int(w) for w in self.widths]
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ValueError(
                f"classes must be at least two unique names (background first), got {self.classes}"
            )
        if len(self.patch_size) not in (2, 3):
            raise ValueError(
                f"patch_size must have 2 (2-D) or 3 (3-D) sides, got {self.patch_size}"
            )
        factor = 2 ** (len(self.widths) - 1)
        if len(self.widths) < 2 or any(p % factor or p < factor for p in self.patch_size):
            raise ValueError(
                f"patch sides {self.patch_size} must be multiples of {factor} for "
                f"{len(self.widths)} U-Net widths"
            )
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        if isinstance(self.window, tuple):
            self.window = list(self.window)
        check_intensity(self.window, self.scale)
        if self.threshold is not None and (len(self.classes) != 2 or not 0 < self.threshold < 1):
            raise ValueError(
                f"threshold needs two classes and a value in (0, 1), got {self.threshold}"
            )
        if self.test_time_symmetries not in (1, 4, 8):
            raise ValueError(
                f"test_time_symmetries must be 1, 4 or 8, got {self.test_time_symmetries}"
            )
        if self.test_time_symmetries == 8 and len(set(self.patch_size)) != 1:
            raise ValueError("8 test-time symmetries (transposes) need a square patch_size")
        if self.preprocessing not in PREPROCESSING:
            raise ValueError(f"preprocessing must be one of {PREPROCESSING}")
        self.clahe_tiles = [int(t) for t in self.clahe_tiles]
        if self.preprocessing == "fundus" and (
            len(self.patch_size) != 2 or self.channels != 1 or self.window is not None
        ):
            raise ValueError(
                "preprocessing='fundus' needs a 2-D model with channels=1 and window=None"
            )
        if len(self.clahe_tiles) != 2 or min(self.clahe_tiles) < 1 or self.clahe_clip < 1:
            raise ValueError("clahe_tiles must be two positive counts and clahe_clip >= 1")
        if self.channels < 1 or self.patches_per_epoch < 1 or not 0 <= self.overlap < 1:
            raise ValueError("channels and patches_per_epoch must be >= 1 and overlap in [0, 1)")


class MedicalSegmenter(NamedClasses, Task):
    """Medical image segmentation following the dlsuite task contract (see DESIGN.md)."""

    config_class = MedicalSegmenterConfig
    config: MedicalSegmenterConfig

    @property
    def rank(self) -> int:
        return len(self.config.patch_size)

    @property
    def factor(self) -> int:
        return 2 ** (len(self.config.widths) - 1)

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        shape = (None,) * self.rank + (c.channels,)
        network = build_unet(shape, len(c.classes), c.widths, dropout=c.dropout)
        inputs = keras.Input(shape, name="image")
        x = intensity_layers(inputs, c.window, c.scale, c.offset)
        return keras.Model(inputs, network(x), name=f"medical_segmenter_{self.rank}d")

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        c, k = self.config, self.num_classes
        loss = {
            "dice_ce": lambda: DiceCrossEntropyLoss(k),
            "dice": lambda: DiceLoss(sparse=True, num_classes=k),
            "cross_entropy": lambda: keras.losses.SparseCategoricalCrossentropy(),
        }[c.loss]()
        model.compile(
            optimizer=config_optimizer(c, total_steps, warmup_steps=max(1, total_steps // 20)),
            loss=loss,
            metrics=[keras.metrics.MeanIoU(k, sparse_y_pred=False, name="mean_iou")],
        )

    # ------------------------------------------------------------------ data
    def cases(self, data: Any) -> Cases:
        if self.config.preprocessing and isinstance(data, (tuple, list)) and len(data) in (2, 3):
            data = (self.preprocess(list(data[0])), *data[1:])
        return as_cases(data, self.rank, self.config.channels, self.num_classes)

    def preprocess(self, images: Any) -> Any:
        """What the model sees: ``preprocessing`` applied (one image or a list); else as given.

        Fundus: an RGB array (0-255), its green channel, an image file or encoded bytes ->
        ``[H, W]`` float32 (the graph ops the export runs).
        """
        if not self.config.preprocessing:
            return images
        if isinstance(images, list):
            return [self.preprocess(image) for image in images]
        image = tf.constant(_rgb_array(images))
        return self._fundus_function(image).numpy()

    @property
    def _fundus_function(self) -> Any:
        c = self.config
        key = (c.fov_threshold, *c.clahe_tiles, c.clahe_clip)
        cached = getattr(self, "_fundus_fn", None)
        if cached is None or cached[0] != key:
            function = tf.function(
                lambda image: fundus.preprocess_fundus(
                    image, c.fov_threshold, c.clahe_tiles, c.clahe_clip
                ),
                input_signature=[tf.TensorSpec([None, None, None], tf.float32)],
            )
            self._fundus_fn = (key, function)
        return self._fundus_fn[1]

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        if isinstance(data, tf.data.Dataset):
            return data
        c = self.config
        cases = self.cases(data)
        patch = tuple(c.patch_size)
        count = (
            c.patches_per_epoch
            if training
            else max(batch_size, min(c.patches_per_epoch, 4 * len(cases)))
        )
        train_sampler = PatchSampler(
            cases, patch, c.foreground_fraction, c.flip, c.seed, balance_classes=c.balance_classes
        )

        def generate():
            # training continues one random stream across epochs; validation repeats its patches
            sampler = (
                train_sampler
                if training
                else PatchSampler(
                    cases,
                    patch,
                    c.foreground_fraction,
                    False,
                    c.seed + 1,
                    balance_classes=c.balance_classes,
                )
            )
            for _ in range(count):
                yield sampler.sample()

        dataset = tf.data.Dataset.from_generator(
            generate,
            output_signature=(
                tf.TensorSpec((*patch, c.channels), tf.float32),
                tf.TensorSpec(patch, tf.int32),
            ),
        )
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ inference
    def _pad_and_predict(self, images: tf.Tensor) -> tf.Tensor:
        """(N, *spatial[, C]) float -> (N, *spatial, K) probabilities, padding each side up to the
        U-Net multiple (symmetric) and cropping back; the same function runs in the export."""
        images = tf.cast(images, tf.float32)
        if images.shape.rank == self.rank + 1:
            images = images[..., tf.newaxis]
        spatial = tf.shape(images)[1 : 1 + self.rank]
        target = (spatial + self.factor - 1) // self.factor * self.factor
        pads = tf.stack([tf.zeros_like(spatial), target - spatial], axis=1)
        paddings = tf.concat([[[0, 0]], pads, [[0, 0]]], axis=0)
        padded = tf.pad(images, paddings, mode="SYMMETRIC")
        k = self.config.test_time_symmetries
        probabilities = (
            fundus.symmetric_probabilities(lambda x: self.model(x, training=False), padded, k)
            if self.rank == 2
            else self.model(padded, training=False)
        )
        begin = tf.zeros([self.rank + 2], tf.int32)
        size = tf.concat([[-1], spatial, [-1]], axis=0)
        return tf.slice(probabilities, begin, size)

    def _served(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """The serving computation on a batch (preprocessing, symmetries, threshold)."""
        if self.config.preprocessing:
            c = self.config
            images = tf.map_fn(
                lambda image: fundus.preprocess_fundus(
                    image, c.fov_threshold, c.clahe_tiles, c.clahe_clip
                ),
                tf.cast(images, tf.float32),
            )
        probabilities = self._pad_and_predict(images)
        return {"mask": self._mask(probabilities), "probabilities": probabilities}

    def _mask(self, probabilities: Any) -> Any:
        """Label map: foreground probability >= ``threshold`` (two classes), else the argmax."""
        if self.config.threshold is None:
            return tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return tf.cast(probabilities[..., 1] >= self.config.threshold, tf.int32)

    def _as_array(self, item: Any) -> tuple[np.ndarray, tuple[float, ...] | None]:
        if self.config.preprocessing:
            return _rgb_array(item), None
        if isinstance(item, (str, os.PathLike)):
            item = hio.read(item)
        if isinstance(item, Volume):
            return np.asarray(item.array, np.float32), item.spacing
        array = np.asarray(item, np.float32)
        if not np.all(np.isfinite(array)):
            raise ValueError("the image holds NaN or infinite values")
        return array, None

    def _probabilities(
        self, image: np.ndarray, mode: str = "auto", batch_size: int = 4
    ) -> np.ndarray:
        """(*spatial[, C]) -> (*spatial, K): ``sliding_window`` over patches, ``whole`` in one
        pass, or ``auto`` (whole when the input fits in one patch)."""
        image = np.asarray(image, np.float32)
        if image.ndim == self.rank:
            image = image[..., None]
        if image.ndim != self.rank + 1 or image.shape[-1] != self.config.channels:
            raise ValueError(
                f"expected a {self.rank}-D image with {self.config.channels} channel(s), "
                f"got shape {image.shape}"
            )
        if mode not in ("auto", "whole", "sliding_window"):
            raise ValueError(f"mode must be auto, whole or sliding_window, got {mode!r}")
        fits = all(s <= p for s, p in zip(image.shape, self.config.patch_size, strict=False))
        if mode == "whole" or (mode == "auto" and fits):
            return self._pad_and_predict(tf.constant(image[None])).numpy()[0]
        return sliding_window_inference(
            image,
            self.config.patch_size,
            lambda batch: fundus.symmetric_probabilities(
                lambda x: self.model(x, training=False),
                tf.constant(batch),
                self.config.test_time_symmetries if self.rank == 2 else 1,
            ).numpy(),
            overlap=self.config.overlap,
            batch_size=batch_size,
        )

    def _item_probabilities(self, array: np.ndarray, mode: str, batch_size: int) -> np.ndarray:
        """One input's (*spatial, K) probabilities; a 2-D model goes slice by slice over 3-D."""
        if self.config.preprocessing:  # whole fundus photo, the export's graph
            return self._served_function(tf.constant(array[None]))["probabilities"].numpy()[0]
        spatial_ndim = array.ndim - (1 if self.config.channels > 1 else 0)
        if spatial_ndim == self.rank:
            return self._probabilities(array, mode, batch_size)
        if spatial_ndim == self.rank + 1 and self.rank == 2:
            return np.stack([self._probabilities(s, mode, batch_size) for s in array])
        raise ValueError(f"a {self.rank}-D segmenter cannot take an input of shape {array.shape}")

    def is_single_input(self, inputs: Any) -> bool:
        """One image / volume is an array, a ``Volume`` or a file path; a list holds several."""
        return not isinstance(inputs, (list, tuple))

    def predict_proba(self, inputs: Any, mode: str = "auto", batch_size: int = 4) -> Any:
        """Per-voxel class probabilities (*spatial, K) of one input; a list of them for a list.

        ``mode``: ``sliding_window`` over patches, ``whole`` in one pass, or ``auto`` (whole
        when the input fits in one patch).
        """
        single = self.is_single_input(inputs)
        items = [inputs] if single else list(inputs)
        if not items:
            raise ValueError("predict needs at least one image")
        arrays = [self._item_probabilities(self._as_array(x)[0], mode, batch_size) for x in items]
        return arrays[0] if single else arrays

    def predict_probabilities(
        self, image: np.ndarray, mode: str = "auto", batch_size: int = 4
    ) -> np.ndarray:
        """Deprecated name of ``predict_proba`` for one image."""
        return self._probabilities(image, mode, batch_size)

    def predict_batch(
        self,
        items: list[Any],
        mode: str = "auto",
        return_probabilities: bool = False,
        spacing: Sequence[float] | None = None,
        batch_size: int = 4,
    ) -> list[dict[str, Any]]:
        """Images / volumes (arrays, ``Volume``, DICOM / NIfTI / PNG paths) -> per input ``mask``
        (int32 label map at the input's size), the ``classes`` present and each structure's size
        (``area_mm2`` for 2-D or ``volume_ml`` for 3-D, from the spacing when it is known).
        A 2-D model segments 3-D inputs slice by slice."""
        results = []
        for item in items:
            array, found_spacing = self._as_array(item)
            voxel = spacing or found_spacing
            probabilities = self._item_probabilities(array, mode, batch_size)
            mask = self._mask(probabilities).numpy().astype(np.int32)
            result: dict[str, Any] = {
                "mask": mask,
                "classes": [self.classes[i] for i in np.unique(mask)],
            }
            if voxel is not None:
                unit = (
                    float(np.prod(voxel[-mask.ndim :]))
                    if len(voxel) >= mask.ndim
                    else float(np.prod(voxel))
                )
                key, scale = ("volume_ml", 1e-3) if mask.ndim == 3 else ("area_mm2", 1.0)
                result[key] = {
                    name: float((mask == k).sum() * unit * scale)
                    for k, name in enumerate(self.classes)
                    if k
                }
            if return_probabilities:
                result["probabilities"] = probabilities
            results.append(result)
        return results

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, data: Any, spacing: Sequence[float] | None = None, mode: str = "auto"
    ) -> dict[str, Any]:
        """Dice and IoU per structure and HD95 in mm (each case's spacing, or ``spacing``)."""
        cases = self.cases(data)
        predictions = [
            self._mask(self._probabilities(image, mode)).numpy() for image in cases.images
        ]
        spacings = [tuple(spacing)] * len(cases) if spacing is not None else cases.spacings
        per_spacing: dict[tuple, list[int]] = {}
        for i, s in enumerate(spacings):
            per_spacing.setdefault(tuple(s), []).append(i)
        if len(per_spacing) == 1:
            return segmentation_scores(predictions, cases.masks, self.classes, spacings[0])
        # cases with different spacings: score each group with its own spacing, weight by count
        parts = [
            (
                len(idx),
                segmentation_scores(
                    [predictions[i] for i in idx], [cases.masks[i] for i in idx], self.classes, s
                ),
            )
            for s, idx in per_spacing.items()
        ]
        return _merge_reports(parts)

    # ------------------------------------------------------------------ export
    @property
    def _served_function(self) -> Any:
        """``_served`` as a tf.function, rebuilt when a served option of the config changes."""
        c = self.config
        key = (
            c.test_time_symmetries,
            c.preprocessing,
            c.fov_threshold,
            *c.clahe_tiles,
            c.clahe_clip,
        )
        cached = getattr(self, "_served_fn", None)
        if cached is None or cached[0] != key:
            self._served_fn = (key, tf.function(self._served, reduce_retracing=True))
        return self._served_fn[1]

    def serving_endpoints(self) -> dict[str, Any]:
        """Raw ``image`` floats; with ``preprocessing="fundus"``: ``image_bytes`` and ``rgb``."""
        if self.config.preprocessing:

            def serve_bytes(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
                images = tf.map_fn(
                    lambda b: tf.cast(
                        tf.io.decode_image(b, channels=3, expand_animations=False), tf.float32
                    ),
                    image_bytes,
                    fn_output_signature=tf.TensorSpec([None, None, 3], tf.float32),
                )
                return self._served(images)

            return {
                "serving_default": (
                    serve_bytes,
                    [tf.TensorSpec([None], tf.string, name="image_bytes")],
                ),
                "rgb": (self._served, [tf.TensorSpec([None, None, None, 3], tf.float32, "rgb")]),
            }

        def serve(image: tf.Tensor) -> dict[str, tf.Tensor]:
            return self._served(image)

        shape = [None] * (self.rank + 1) + (
            [self.config.channels] if self.config.channels > 1 else []
        )
        return {"serving_default": (serve, [tf.TensorSpec(shape, tf.float32, name="image")])}

    def warmup_inputs(self) -> dict[str, Any]:
        if self.config.preprocessing:
            import io

            from PIL import Image

            buffer = io.BytesIO()
            side = self.config.patch_size[0]
            Image.fromarray(np.full((side, side, 3), 128, np.uint8)).save(buffer, format="PNG")
            return {"image_bytes": np.array([buffer.getvalue()], dtype=object)}
        shape = (1, *self.config.patch_size) + (
            (self.config.channels,) if self.config.channels > 1 else ()
        )
        return {"image": np.full(shape, -1000.0 if self.config.window else 0.0, np.float32)}


def _rgb_array(item: Any) -> np.ndarray:
    """A fundus photo as float32 ``[H, W, C]`` (0-255): an array, an image file or its bytes."""
    if isinstance(item, (str, os.PathLike, bytes)):
        import io

        from PIL import Image, UnidentifiedImageError

        try:
            source = io.BytesIO(item) if isinstance(item, bytes) else item
            with Image.open(source) as im:
                item = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as error:
            raise ValueError(f"cannot read the fundus image: {error}") from None
    array = np.asarray(item, np.float32)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise ValueError(f"a fundus image is [H, W, 3] RGB or [H, W], got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("the image holds NaN or infinite values")
    return array


def _merge_reports(parts: list[tuple[int, dict]]) -> dict[str, Any]:
    total = sum(n for n, _ in parts)
    classes = list(parts[0][1]["per_class"])
    per_class = {}
    for name in classes:
        entry = {}
        for key in ("dice", "iou", "hd95_mm"):
            values = [
                (n, r["per_class"][name][key])
                for n, r in parts
                if math.isfinite(r["per_class"][name][key])
            ]
            weight = sum(n for n, _ in values)
            entry[key] = sum(n * v for n, v in values) / weight if weight else float("nan")
        entry["hd95_undefined"] = sum(r["per_class"][name]["hd95_undefined"] for _, r in parts)
        entry["cases_with_structure"] = sum(
            r["per_class"][name]["cases_with_structure"] for _, r in parts
        )
        per_class[name] = entry
    hd = [v["hd95_mm"] for v in per_class.values() if math.isfinite(v["hd95_mm"])]
    return {
        "mean_dice": float(np.mean([v["dice"] for v in per_class.values()])),
        "mean_iou": float(np.mean([v["iou"] for v in per_class.values()])),
        "mean_hd95_mm": float(np.mean(hd)) if hd else float("nan"),
        "per_class": per_class,
        "num_cases": total,
    }

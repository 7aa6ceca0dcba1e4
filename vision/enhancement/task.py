"""``vision.ImageEnhancer``: image denoising and x2 / x4 super-resolution, trained on clean
images only (the degradation is made on the fly: Gaussian noise, or area downsampling).

``predict`` takes what a person has (paths, bytes, arrays) and returns the enhanced image
(uint8 array and PNG bytes); the export's ``serving_default`` takes ``image_bytes`` and returns
``image_bytes`` (PNG) through the same ops. ``evaluate`` reports PSNR and SSIM (``tf.image``)
of the enhancer and of the plain input (noisy image, or bilinear upsampling) on clean images.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_choice
from common.task import Task, TaskConfig
from vision import images as images_lib
from vision.enhancement.model import build_enhancer
from vision.generation.data import as_unit_images

MODES = ("denoise", "super_resolution")


@dataclasses.dataclass
class ImageEnhancerConfig(TaskConfig):
    """``mode`` denoise (``noise_std`` of the training noise, images in [0, 1]) or
    super_resolution by ``scale`` 2 or 4; ``channels`` 1 (grey) or 3 (RGB)."""

    mode: str = "denoise"
    scale: int = 2
    noise_std: float = 0.1
    channels: int = 3
    filters: int = 32
    blocks: int = 4
    learning_rate: float = 1e-3
    batch_size: int = 16
    seed: int = 0

    def validate(self) -> None:
        check_choice("mode", self.mode, MODES)
        check_choice("scale", self.scale, (2, 4))
        check_choice("channels", self.channels, (1, 3))
        check_at_least(self, 1, "filters", "blocks", "batch_size")
        if not 0 < self.noise_std < 1:
            raise ValueError(f"noise_std must be in (0, 1), got {self.noise_std}")

    @property
    def factor(self) -> int:
        return self.scale if self.mode == "super_resolution" else 1


class ImageEnhancer(Task):
    """Denoising / super-resolution following the dlsuite task contract (docs/design.md)."""

    config_class = ImageEnhancerConfig
    config: ImageEnhancerConfig

    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        return build_enhancer(c.channels, c.factor, c.filters, c.blocks)

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        model.compile(optimizer=keras.optimizers.Adam(self.config.learning_rate), loss="mae")

    # ------------------------------------------------------------------ data
    def clean_images(self, data: Any) -> np.ndarray:
        """Clean images (N, H, W[, C]) -> float32 [0, 1] with the model's channels; sizes must
        be divisible by the scale."""
        if hasattr(data, "images"):
            data = data.images
        images = as_unit_images(data)
        if images.shape[-1] != self.config.channels:
            images = (
                np.repeat(images, 3, -1)
                if self.config.channels == 3
                else tf.image.rgb_to_grayscale(images).numpy()
            )
        f = self.config.factor
        if images.shape[1] % f or images.shape[2] % f:
            raise ValueError(f"image sizes {images.shape[1:3]} must be divisible by {f}")
        return images

    def degrade(self, clean: tf.Tensor, seed: int | None = None) -> tf.Tensor:
        """What the enhancer undoes: noise (denoise) or area downsampling (super-resolution)."""
        c = self.config
        if c.mode == "denoise":
            noise = (
                tf.random.normal(tf.shape(clean))
                if seed is None
                else tf.random.stateless_normal(tf.shape(clean), [seed, 0])
            )
            return tf.clip_by_value(clean + c.noise_std * noise, 0.0, 1.0)
        size = tf.shape(clean)[-3:-1] // c.scale
        return tf.image.resize(clean, size, method="area")

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        clean = self.clean_images(data)
        dataset = tf.data.Dataset.from_tensor_slices(clean)
        if training:
            dataset = dataset.shuffle(len(clean), seed=self.config.seed)
        dataset = dataset.batch(batch_size).map(lambda x: (self.degrade(x), x))
        return dataset.prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, data: Any, seed: int = 0, **_: Any) -> dict[str, Any]:
        """PSNR / SSIM (dB, [0, 1] images) of the enhancer and of the plain input against clean
        images: the degraded input for denoising, its bilinear upsampling for super-resolution."""
        clean = tf.constant(self.clean_images(data))
        degraded = self.degrade(clean, seed)
        enhanced = tf.clip_by_value(self.model(degraded, training=False), 0.0, 1.0)
        plain = degraded
        if self.config.mode == "super_resolution":
            plain = tf.image.resize(degraded, tf.shape(clean)[1:3], method="bilinear")

        def mean(metric: Any, x: tf.Tensor) -> float:
            return float(tf.reduce_mean(metric(x, clean, max_val=1.0)))

        return {
            "psnr": mean(tf.image.psnr, enhanced),
            "ssim": mean(tf.image.ssim, enhanced),
            "input_psnr": mean(tf.image.psnr, plain),
            "input_ssim": mean(tf.image.ssim, plain),
        }

    # ------------------------------------------------------------------ inference
    def _enhance(self, image: tf.Tensor) -> tf.Tensor:
        """uint8 ``[h, w, channels]`` -> enhanced uint8 ``[f*h, f*w, channels]``."""
        x = tf.cast(image, tf.float32)[None] / 255.0
        y = tf.clip_by_value(self.model(x, training=False)[0], 0.0, 1.0)
        return tf.cast(tf.round(y * 255.0), tf.uint8)

    def _decode(self, image_bytes: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_image(
            image_bytes, channels=self.config.channels, expand_animations=False
        )
        image.set_shape([None, None, self.config.channels])
        return image

    def _as_uint8(self, item: Any) -> np.ndarray:
        array = images_lib.as_image_array(item)
        unit = self.clean_images(
            array[None].astype(np.float32) if array.dtype != np.uint8 else array[None]
        )
        return np.round(unit[0] * 255).astype(np.uint8)

    def predict_batch(self, items: list[Any], **_: Any) -> list[dict[str, Any]]:
        """Each image -> ``image`` (enhanced uint8 [H', W', C]) and ``png`` (its PNG bytes)."""
        results = []
        for item in items:
            if isinstance(item, (bytes, str)) or hasattr(item, "__fspath__"):
                data = images_lib.read_image_bytes(item)
                images_lib.decode_image(data)  # a ValueError naming corrupt data
                pixels = self._decode(tf.constant(data))
            else:
                pixels = tf.constant(self._as_uint8(item))
            out = self._enhance(pixels)
            results.append({"image": out.numpy(), "png": tf.io.encode_png(out).numpy()})
        return results

    def is_single_input(self, inputs: Any) -> bool:
        if isinstance(inputs, np.ndarray):
            return inputs.ndim != 4
        return not isinstance(inputs, (list, tuple))

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Any]:
        """``image_bytes [n]`` (any sizes) -> ``image_bytes [n]``: the enhanced images as PNG."""

        def serve(image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
            png = tf.map_fn(
                lambda b: tf.io.encode_png(self._enhance(self._decode(b))),
                image_bytes,
                fn_output_signature=tf.string,
            )
            return {"image_bytes": png}

        return images_lib.ServesImageBytes.image_bytes_endpoint(serve)

    def warmup_inputs(self) -> dict[str, Any]:
        image = np.linspace(0, 255, 16 * 16 * 3).reshape(16, 16, 3).astype(np.uint8)
        return {"image_bytes": np.array([images_lib.encode_png(image)], dtype=object)}

"""``vision.ImageGenerator``: image generation with a VAE, a WGAN-GP or a DDIM diffusion model,
unconditional or class-conditional, behind the dlsuite task contract.

``fit`` trains on images (optionally labelled) with Keras' ``fit`` (progress, callbacks,
``work_dir`` checkpoints and resume) and writes a sample grid per epoch (PNG, and TensorBoard
with ``log_dir``). ``generate(num_images, class_name, seed, steps, eta)`` samples with seeded
stateless ops; the export's ``serving_default`` runs the same sampling graph (the whole DDIM
loop included) from ``num_images``, ``class_name``, ``seed`` (and ``steps``, ``eta`` for DDIM) and
returns ``images`` (float, [0, 1]), ``png`` (bytes) and ``classes``. ``evaluate`` reports
FID / KID on a feature extractor of your choice, CAS and a memorisation check
(``vision.generation.metrics``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.config_checks import check_at_least, check_choice, check_interval, class_names
from common.export import Endpoint
from common.task import Task, TaskConfig, TrainingHistory
from common.task_parts import NamedClasses
from vision.generation import metrics as metrics_lib
from vision.generation.base import GenerativeModel
from vision.generation.callbacks import SampleGrids, tensorboard_grids
from vision.generation.data import as_unit_images
from vision.generation.ddim import DDIM
from vision.generation.sampling import sampling_graph
from vision.generation.vae import VAE
from vision.generation.wgan import WGANGP

ARCHITECTURES = ("vae", "wgan_gp", "ddim")
DEFAULT_WIDTHS = {"vae": [32, 64], "wgan_gp": [64, 128], "ddim": [32, 64, 96]}
DEFAULT_LEARNING_RATE = {"vae": 1e-3, "wgan_gp": 2e-4, "ddim": 1e-3}


@dataclasses.dataclass
class ImageGeneratorConfig(TaskConfig):
    """Options of ``ImageGenerator``. ``classes`` empty: unconditional. ``widths`` empty and
    ``learning_rate`` 0 mean the architecture's defaults. VAE: ``latent_dim``, ``kl_weight``;
    WGAN-GP: ``latent_dim``, ``critic_steps``, ``gradient_penalty``; DDIM: ``block_depth``,
    ``embedding_dims``, ``ema`` and the default ``sampling_steps`` / ``eta`` of ``generate``."""

    architecture: str = "vae"
    classes: list[str] = dataclasses.field(default_factory=list)
    image_size: int = 28
    channels: int = 1
    widths: list[int] = dataclasses.field(default_factory=list)
    latent_dim: int = 32
    kl_weight: float = 1.0
    critic_steps: int = 3
    gradient_penalty: float = 10.0
    block_depth: int = 2
    embedding_dims: int = 32
    ema: float = 0.99
    sampling_steps: int = 20
    eta: float = 0.0
    learning_rate: float = 0.0
    batch_size: int = 64
    max_images: int = 256
    seed: int = 0

    def validate(self) -> None:
        check_choice("architecture", self.architecture, ARCHITECTURES)
        if self.classes:
            self.classes = class_names(self.classes, "a conditional ImageGenerator", "['a', 'b']")
        self.widths = [int(w) for w in self.widths or DEFAULT_WIDTHS[self.architecture]]
        check_choice("channels", self.channels, (1, 3))
        check_at_least(self, 1, "latent_dim", "critic_steps", "block_depth", "sampling_steps")
        check_at_least(self, 1, "batch_size", "max_images")
        check_at_least(self, 8, "image_size")
        if min(self.widths) < 1:
            raise ValueError(f"widths must be positive, got {self.widths}")
        downsamples = len(self.widths) - (1 if self.architecture == "ddim" else 0)
        if self.image_size % 2**downsamples:
            raise ValueError(
                f"image_size must be divisible by {2**downsamples} for {len(self.widths)} "
                f"widths with architecture {self.architecture!r}, got {self.image_size}"
            )
        check_interval("ema", self.ema, 0.0, 1.0)
        check_interval("eta", self.eta, 0.0, 1.0, "[]")
        if self.embedding_dims < 2 or self.embedding_dims % 2:
            raise ValueError(f"embedding_dims must be even and >= 2, got {self.embedding_dims}")
        if self.learning_rate < 0 or self.kl_weight < 0 or self.gradient_penalty < 0:
            raise ValueError("learning_rate, kl_weight and gradient_penalty must be >= 0")


class ImageGenerator(NamedClasses, Task):
    """Image generation following the dlsuite task contract (see docs/design.md)."""

    config_class = ImageGeneratorConfig
    config: ImageGeneratorConfig
    monitor = "val_loss"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        c = self.config
        return (c.image_size, c.image_size, c.channels)

    # ------------------------------------------------------------------ model
    def build_model(self) -> GenerativeModel:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        shape, classes = self.image_shape, self.num_classes
        if c.architecture == "vae":
            return VAE(shape, classes, c.widths, c.latent_dim, c.kl_weight, name="vae")
        if c.architecture == "wgan_gp":
            return WGANGP(
                shape, classes, c.widths, c.latent_dim, c.critic_steps, c.gradient_penalty,
                name="wgan_gp",
            )  # fmt: skip
        return DDIM(shape, classes, c.widths, c.block_depth, c.embedding_dims, c.ema, name="ddim")

    @property
    def learning_rate(self) -> float:
        return self.config.learning_rate or DEFAULT_LEARNING_RATE[self.config.architecture]

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        lr = self.learning_rate
        if self.config.architecture == "wgan_gp":
            model.compile(
                optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.9),
                critic_optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.9),
            )
        elif self.config.architecture == "ddim":
            model.compile(optimizer=keras.optimizers.AdamW(lr, weight_decay=1e-4))
        else:
            model.compile(optimizer=keras.optimizers.Adam(lr), jit_compile=False)

    # ------------------------------------------------------------------ data
    def to_arrays(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """What the user has -> images float32 ``[n, size, size, channels]`` in [0, 1] and label
        indices (zeros for an unconditional model). Accepted: an images array, ``(images,
        labels)``, an object with ``images`` and ``labels`` (``vision.data.ImageArrays``)."""
        labels: Any = None
        if hasattr(data, "images") and hasattr(data, "labels"):
            data, labels = data.images, data.labels
        elif isinstance(data, (tuple, list)) and len(data) == 2:
            data, labels = data
        images = as_unit_images(data)
        if not len(images):
            raise ValueError("the image data is empty")
        size, channels = self.config.image_size, self.config.channels
        if images.shape[1:3] != (size, size):
            images = tf.image.resize(images, (size, size)).numpy()
        if images.shape[-1] != channels:
            images = (
                np.repeat(images, 3, -1)
                if channels == 3
                else tf.image.rgb_to_grayscale(images).numpy()
            )
        if not self.num_classes:
            return images.astype(np.float32), np.zeros(len(images), np.int32)
        if labels is None:
            raise ValueError("a conditional generator needs (images, labels)")
        return images.astype(np.float32), self._label_indices(labels, len(images))

    def _label_indices(self, labels: Any, count: int) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.shape != (count,):
            raise ValueError(f"expected {count} labels, got shape {labels.shape}")
        if labels.dtype.kind in "USO":
            index = {name: i for i, name in enumerate(self.classes)}
            unknown = sorted({str(v) for v in labels} - set(index))
            if unknown:
                raise ValueError(f"unknown labels {unknown[:5]}; the classes are {self.classes}")
            return np.array([index[str(v)] for v in labels], np.int32)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(f"label indices must be in [0, {self.num_classes - 1}]")
        return labels.astype(np.int32)

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        images, labels = self.to_arrays(data)
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        if training:
            dataset = dataset.shuffle(len(images), seed=self.config.seed)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ training
    def fit(self, data: Any, *args: Any, **kwargs: Any) -> TrainingHistory:
        """``Task.fit`` (same arguments) plus ``samples_dir``, ``log_dir`` and ``grid_size``:
        a grid of ``grid_size`` samples (fixed seed) per epoch as PNG files in ``samples_dir``
        (default ``work_dir/samples`` with a ``work_dir``) and, with ``log_dir``, TensorBoard
        images and scalars."""
        samples_dir = kwargs.pop("samples_dir", None)
        log_dir = kwargs.pop("log_dir", None)
        grid_size = int(kwargs.pop("grid_size", 16))
        if samples_dir is None and kwargs.get("work_dir") is not None:
            samples_dir = Path(kwargs["work_dir"]) / "samples"
        n = min(grid_size, self.config.max_images)

        def draw() -> np.ndarray:
            return self.generate(n, seed=self.config.seed)["images"]

        extra: list[keras.callbacks.Callback] = []
        if samples_dir is not None:
            extra.append(SampleGrids(samples_dir, draw))
        if log_dir is not None:
            extra += [keras.callbacks.TensorBoard(str(log_dir)), tensorboard_grids(log_dir, draw)]
        kwargs["callbacks"] = extra + list(kwargs.get("callbacks", ()))
        return super().fit(data, *args, **kwargs)

    # ------------------------------------------------------------------ sampling
    def _sampler(self) -> Any:
        key = id(self.model)
        if getattr(self, "_sampler_key", None) != key:
            self._sampler_fn = tf.function(
                sampling_graph(self.model, self.classes, self.config.max_images)
            )
            self._sampler_key = key
        return self._sampler_fn

    def check_request(
        self, num_images: Any, class_name: str | None, steps: Any, eta: Any
    ) -> tuple[int, str, int, float]:
        """The Python-side checks of a sampling request (ValueError naming the problem)."""
        c = self.config
        if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)):
            raise ValueError(f"num_images must be an integer, got {num_images!r}")
        if not 1 <= int(num_images) <= c.max_images:
            raise ValueError(f"num_images must be in [1, {c.max_images}], got {num_images}")
        name = "" if class_name is None else str(class_name)
        if name and not self.classes:
            raise ValueError(f"this generator is unconditional; got class {name!r}")
        if name and name not in self.classes:
            raise ValueError(f"unknown class {name!r}; the model's classes are {self.classes}")
        steps = c.sampling_steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        eta = c.eta if eta is None else float(eta)
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"eta must be in [0, 1], got {eta}")
        return int(num_images), name, int(steps), eta

    def generate(
        self,
        num_images: int = 16,
        class_name: str | None = None,
        seed: int = 0,
        steps: int | None = None,
        eta: float | None = None,
    ) -> dict[str, Any]:
        """Sample ``num_images`` images (of ``class_name``, or random classes when None) ->
        ``images`` float32 ``[n, H, W, C]`` in [0, 1], ``png`` (list of bytes) and ``classes``
        (list of names, "" when unconditional). ``steps`` / ``eta``: DDIM only (default: the
        config's). The same seed gives the same images here and in the export."""
        n, name, steps, eta = self.check_request(num_images, class_name, steps, eta)
        out = self._sampler()(
            tf.constant(n, tf.int32),
            tf.constant(name),
            tf.constant(int(seed), tf.int32),
            tf.constant(steps, tf.int32),
            tf.constant(eta, tf.float32),
        )
        return {
            "images": out["images"].numpy(),
            "png": [bytes(p) for p in out["png"].numpy()],
            "classes": [c.decode() for c in out["classes"].numpy()],
        }

    def generate_labelled(self, labels: Any, seed: int = 0, steps: int | None = None) -> np.ndarray:
        """Images for the given class labels (names or indices), in order, in chunks of
        ``max_images`` (one per class run, seeded from ``seed``) -> ``[n, H, W, C]``."""
        labels = (
            self._label_indices(labels, len(labels))
            if self.classes
            else np.zeros(len(labels), np.int32)
        )
        out = np.zeros((len(labels), *self.image_shape), np.float32)
        for k in range(max(1, self.num_classes)):
            where = np.flatnonzero(labels == k)
            for j, start in enumerate(range(0, len(where), self.config.max_images)):
                part = where[start : start + self.config.max_images]
                name = self.classes[k] if self.classes else None
                chunk_seed = seed + 7919 * k + j
                out[part] = self.generate(len(part), name, chunk_seed, steps)["images"]
        return out

    # ------------------------------------------------------------------ autoencoder (VAE)
    def _vae(self) -> VAE:
        if not isinstance(self.model, VAE):
            raise ValueError("encode / decode / reconstruct need architecture='vae'")
        return self.model

    def _labels_for(self, count: int, labels: Any) -> tf.Tensor:
        if not self.classes:
            return tf.zeros([count], tf.int32)
        if labels is None:
            raise ValueError("a conditional VAE needs the images' labels")
        return tf.constant(self._label_indices(labels, count))

    def encode(self, images: Any, labels: Any = None) -> np.ndarray:
        """Images -> latent means ``[n, latent_dim]`` (VAE)."""
        x, _ = self.to_arrays(images)
        return self._vae().encode(x, self._labels_for(len(x), labels))[0].numpy()

    def decode(self, latents: Any, labels: Any = None) -> np.ndarray:
        """Latents ``[n, latent_dim]`` -> images in [0, 1] (VAE)."""
        z = np.asarray(latents, np.float32)
        return self._vae().decode(z, self._labels_for(len(z), labels)).numpy()

    def reconstruct(self, images: Any, labels: Any = None) -> np.ndarray:
        """Images -> reconstructions in [0, 1] through the latent mean (VAE): a denoiser."""
        x, _ = self.to_arrays(images)
        return self._vae().reconstruct(x, self._labels_for(len(x), labels)).numpy()

    def anomaly_scores(self, images: Any, labels: Any = None) -> np.ndarray:
        """Per-image mean squared reconstruction error (VAE): high for images unlike training."""
        x, _ = self.to_arrays(images)
        return np.mean((self.reconstruct(x, labels) - x) ** 2, axis=(1, 2, 3))

    # ------------------------------------------------------------------ predict / evaluate
    def is_single_input(self, inputs: Any) -> bool:
        return not isinstance(inputs, (list, tuple))

    def predict_batch(self, items: list[Any], **_: Any) -> list[dict[str, Any]]:
        """Each item asks for one image: a class name, an int seed, None or a dict with
        ``class`` / ``seed`` / ``steps`` -> ``image`` (float [H, W, C]), ``png``, ``class``.
        Without a seed an item's seed is its position in the list."""
        results = []
        for position, item in enumerate(items):
            request: dict[str, Any] = {"seed": position}
            if isinstance(item, dict):
                request.update(item)
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                request["seed"] = int(item)
            elif item is not None:
                request["class"] = str(item)
            unknown = sorted(set(request) - {"class", "seed", "steps", "eta"})
            if unknown:
                raise ValueError(f"unknown request keys {unknown}; use class, seed, steps, eta")
            out = self.generate(
                1, request.get("class"), int(request["seed"]), request.get("steps"),
                request.get("eta"),
            )  # fmt: skip
            results.append(
                {"image": out["images"][0], "png": out["png"][0], "class": out["classes"][0]}
            )
        return results

    def evaluate(
        self,
        data: Any,
        features: metrics_lib.FeatureFn | Any | None = None,
        train_data: Any = None,
        cas_epochs: int = 0,
        seed: int = 1,
        steps: int | None = None,
        kid_subset: int = 1000,
        **_: Any,
    ) -> dict[str, Any]:
        """Compare as many generated images as ``data`` holds (same class counts) with ``data``
        (real, held-out): ``fid``, ``kid`` (+ ``kid_std``) on ``features`` (a function, a
        dlsuite ``ImageClassifier`` or None for raw pixels); with ``train_data`` the
        memorisation check; with ``cas_epochs`` > 0 (conditional models) the CAS."""
        extractor: metrics_lib.FeatureFn
        real, labels = self.to_arrays(data)
        generated = self.generate_labelled(labels, seed=seed, steps=steps)
        if features is None:
            extractor, name = metrics_lib.pixel_features, "pixels"
        elif callable(features) and not hasattr(features, "model"):
            extractor, name = features, getattr(features, "__name__", "custom")
        else:
            extractor, name = metrics_lib.classifier_features(features), "dlsuite_classifier"
        f_real, f_fake = extractor(real), extractor(generated)
        kid, kid_std = metrics_lib.kernel_inception_distance(f_real, f_fake, subset_size=kid_subset)
        report: dict[str, Any] = {
            "fid": metrics_lib.frechet_distance(f_real, f_fake),
            "kid": kid,
            "kid_std": kid_std,
            "feature_extractor": name,
            "num_images": len(real),
        }
        if train_data is not None:
            train = self.to_arrays(train_data)[0]
            report.update(metrics_lib.nearest_neighbour_report(generated, train, real))
        if cas_epochs and self.classes:
            report["cas"] = metrics_lib.classification_accuracy_score(
                generated, labels, real, labels, self.classes, epochs=cas_epochs
            )
        return report

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, Endpoint]:
        """``serving_default``: ``num_images`` (int32), ``class_name`` (string, "" for random
        classes), ``seed`` (int32) [and for DDIM ``steps`` (int32), ``eta`` (float32)] ->
        ``images`` float32 ``[n, H, W, C]`` in [0, 1], ``png`` ``[n]`` and ``classes`` ``[n]``."""
        fn = sampling_graph(self.model, self.classes, self.config.max_images)
        specs = [
            tf.TensorSpec([], tf.int32, name="num_images"),
            tf.TensorSpec([], tf.string, name="class_name"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ]
        if self.config.architecture == "ddim":
            specs += [
                tf.TensorSpec([], tf.int32, name="steps"),
                tf.TensorSpec([], tf.float32, name="eta"),
            ]
            return {"serving_default": (fn, specs)}
        steps, eta = tf.constant(1), tf.constant(0.0)

        def serve(num_images, class_name, seed):
            return fn(num_images, class_name, seed, steps, eta)

        return {"serving_default": (serve, specs)}

    def warmup_inputs(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "num_images": np.int32(2),
            "class_name": np.array(b"", dtype=object),
            "seed": np.int32(0),
        }
        if self.config.architecture == "ddim":
            request.update(steps=np.int32(self.config.sampling_steps), eta=np.float32(0.0))
        return request

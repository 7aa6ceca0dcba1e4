"""Tiny SavedModels and servers for the serving tests.

Models (built once per session with plain ``tf.Module``, then copied into per-test folders):

* ``tabular`` (v1, v2): ``features`` float32 [None, 3] -> ``scores`` float32 [None, 2],
  ``label`` string [None]. v2 has other weights, so answers tell the versions apart.
* ``images``: ``image_bytes`` string [None] (PNG/JPEG) -> ``mean`` float32 [None, 3],
  ``thumbnail_bytes`` string [None] (a 2x2 PNG; the ``_bytes`` suffix means b64 in JSON).
* ``pair``: ``serving_default`` (``a``, ``b`` float32 [None, 2] -> ``sum``, ``dot``),
  ``sum_only`` (one output -> bare JSON values), ``scale`` (``x`` [None], scalar ``factor``),
  ``count`` (``tokens`` int32 [None, None], ``mask`` bool [None, None] -> ``n`` int64).
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.serving.models_config import VersionPolicy, write_models_config
from common.serving.server import ModelServer
from common.serving.warmup import write_warmup_file


class Tabular(tf.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = tf.Variable(rng.normal(size=(3, 2)).astype("float32"))
        self.labels = tf.constant(["neg", "pos"])

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="features")])
    def serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        scores = tf.nn.softmax(tf.matmul(features, self.w), axis=-1)
        return {"scores": scores, "label": tf.gather(self.labels, tf.argmax(scores, axis=-1))}


class Images(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        def one(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image = tf.image.resize(tf.cast(image, tf.float32), [8, 8])
            thumb = tf.cast(tf.image.resize(image, [2, 2]), tf.uint8)
            return tf.reduce_mean(image, axis=[0, 1]) / 255.0, tf.io.encode_png(thumb)

        mean, thumb = tf.map_fn(
            one, image_bytes, fn_output_signature=(tf.TensorSpec([3], tf.float32),
                                                   tf.TensorSpec([], tf.string))
        )
        return {"mean": mean, "thumbnail_bytes": thumb}


class Pair(tf.Module):
    spec = tf.TensorSpec([None, 2], tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="a"),
                                  tf.TensorSpec([None, 2], tf.float32, name="b")])
    def serve(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": a + b, "dot": tf.reduce_sum(a * b, axis=-1)}

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="a"),
                                  tf.TensorSpec([None, 2], tf.float32, name="b")])
    def sum_only(self, a: tf.Tensor, b: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"sum": a + b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"),
                                  tf.TensorSpec([], tf.float32, name="factor")])
    def scale(self, x: tf.Tensor, factor: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": x * factor}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="tokens"),
                                  tf.TensorSpec([None, None], tf.bool, name="mask")])
    def count(self, tokens: tf.Tensor, mask: tf.Tensor) -> dict[str, tf.Tensor]:
        kept = tf.where(mask, tokens, tf.zeros_like(tokens))
        return {"n": tf.reduce_sum(tf.cast(kept, tf.int64), axis=-1)}


def png_bytes(color: tuple[int, int, int], size: int = 6) -> bytes:
    """A solid-colour PNG."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(color: tuple[int, int, int], size: int = 8) -> bytes:
    """A solid-colour JPEG."""
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _save(module: tf.Module, path: Path, signatures: dict, warmup: dict) -> Path:
    tf.saved_model.save(module, str(path), signatures=signatures)
    write_warmup_file(path, [warmup])
    return path


@pytest.fixture(scope="session")
def model_library(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Saved versions, built once: name -> SavedModel folder (copy before serving)."""
    root = tmp_path_factory.mktemp("model_library")
    lib: dict[str, Path] = {}
    for version, seed in ((1, 1), (2, 2)):
        module = Tabular(seed)
        lib[f"tabular_v{version}"] = _save(
            module, root / f"tabular_v{version}", {"serving_default": module.serve},
            {"features": np.zeros((1, 3), np.float32)},
        )
    images = Images()
    lib["images"] = _save(images, root / "images", {"serving_default": images.serve},
                          {"image_bytes": np.array([png_bytes((1, 2, 3))], dtype=object)})
    pair = Pair()
    lib["pair"] = _save(
        pair, root / "pair",
        {"serving_default": pair.serve, "sum_only": pair.sum_only, "scale": pair.scale,
         "count": pair.count},
        {"a": np.zeros((1, 2), np.float32), "b": np.zeros((1, 2), np.float32)},
    )
    # Loads fine but its warmup request does not fit the signature -> must be rejected.
    bad = root / "tabular_bad_warmup"
    shutil.copytree(lib["tabular_v1"], bad)
    write_warmup_file(bad, [{"features": np.zeros((1, 5), np.float32)}])
    lib["tabular_bad_warmup"] = bad
    return lib


@pytest.fixture(scope="session")
def in_process(model_library: dict[str, Path]) -> Callable[[str], dict]:
    """Loaded signatures of the library, for comparing served outputs to in-process calls."""
    cache: dict[str, object] = {}

    def signatures(key: str) -> dict:
        if key not in cache:
            cache[key] = tf.saved_model.load(str(model_library[key]))
        return cache[key].signatures  # type: ignore[attr-defined]

    return signatures


def install(lib: dict[str, Path], base: Path, name: str, version: int, key: str) -> Path:
    """Copy a library model into ``base/name/version`` the way exports do (atomic rename)."""
    target = base / name / str(version)
    tmp = base / name / f".tmp-{version}-test"
    shutil.copytree(lib[key], tmp)
    tmp.rename(target)
    return target


@pytest.fixture(scope="session")
def served_base(model_library: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with a models.config: tabular v1+v2 (labels), images, pair."""
    base = tmp_path_factory.mktemp("served")
    install(model_library, base, "tabular", 1, "tabular_v1")
    install(model_library, base, "tabular", 2, "tabular_v2")
    install(model_library, base, "images", 1, "images")
    install(model_library, base, "pair", 7, "pair")
    write_models_config(base, [
        {"name": "tabular", "base_path": str(base / "tabular"),
         "version_policy": VersionPolicy.all(), "version_labels": {"stable": 1, "canary": 2}},
        {"name": "images", "base_path": str(base / "images")},
        {"name": "pair", "base_path": str(base / "pair")},
    ])
    return base


MAX_BODY_BYTES = 256 * 1024


@pytest.fixture(scope="session")
def server(served_base: Path) -> Iterator[ModelServer]:
    """One embedded server for the read-only tests (REST + gRPC on ephemeral ports)."""
    srv = ModelServer(served_base, rest_port=0, grpc_port=0, poll_interval=0,
                      max_body_bytes=MAX_BODY_BYTES)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()

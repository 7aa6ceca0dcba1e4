"""Tiny SavedModels and servers for the serving tests.

Models (built once per session from serving_helpers.py, then copied into per-test folders):

* ``tabular`` (v1, v2): ``features`` float32 [None, 3] -> ``scores`` float32 [None, 2],
  ``label`` string [None]. v2 has other weights, so answers tell the versions apart.
* ``images``: ``image_bytes`` string [None] (PNG/JPEG) -> ``mean`` float32 [None, 3],
  ``thumbnail_bytes`` string [None] (a 2x2 PNG; the ``_bytes`` suffix means b64 in JSON).
* ``pair``: ``serving_default`` (``a``, ``b`` float32 [None, 2] -> ``sum``, ``dot``),
  ``sum_only`` (one output -> bare JSON values), ``scale`` (``x`` [None], scalar ``factor``),
  ``count`` (``tokens`` int32 [None, None], ``mask`` bool [None, None] -> ``n`` int64).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent))  # tests here import serving_helpers
from serving_helpers import Images, Pair, Tabular, png_bytes  # noqa: E402

from serving.models_config import VersionPolicy, write_models_config  # noqa: E402
from serving.server import ModelServer  # noqa: E402
from serving.warmup import write_warmup_file  # noqa: E402


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
            module,
            root / f"tabular_v{version}",
            {"serving_default": module.serve},
            {"features": np.zeros((1, 3), np.float32)},
        )
    images = Images()
    lib["images"] = _save(
        images,
        root / "images",
        {"serving_default": images.serve},
        {"image_bytes": np.array([png_bytes((1, 2, 3))], dtype=object)},
    )
    pair = Pair()
    lib["pair"] = _save(
        pair,
        root / "pair",
        {
            "serving_default": pair.serve,
            "sum_only": pair.sum_only,
            "scale": pair.scale,
            "count": pair.count,
        },
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
    write_models_config(
        base,
        [
            {
                "name": "tabular",
                "base_path": str(base / "tabular"),
                "version_policy": VersionPolicy.all(),
                "version_labels": {"stable": 1, "canary": 2},
            },
            {"name": "images", "base_path": str(base / "images")},
            {"name": "pair", "base_path": str(base / "pair")},
        ],
    )
    return base


MAX_BODY_BYTES = 256 * 1024


@pytest.fixture(scope="session")
def server(served_base: Path) -> Iterator[ModelServer]:
    """One embedded server for the read-only tests (REST + gRPC on ephemeral ports)."""
    srv = ModelServer(
        served_base, rest_port=0, grpc_port=0, poll_interval=0, max_body_bytes=MAX_BODY_BYTES
    )
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()

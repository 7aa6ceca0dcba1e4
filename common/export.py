"""Atomic, numbered SavedModel exports that stock TensorFlow Serving loads and warms up.

A task hands over its Keras model plus raw-input endpoint functions; this module writes
``base_dir/<N>/`` (saved_model.pb, variables/, assets.extra/tf_serving_warmup_requests) into a
hidden staging sibling (``common.atomic``) and renames it into place only when complete, so a
server polling ``base_dir`` never sees half a model and an earlier version is never touched.
Staging folders left by exports killed mid-write are removed by the next export.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tensorflow as tf

from common.atomic import STAGING_PREFIX, remove_stale_staging, staged
from common.warmup import WARMUP_FILE, read_warmup_requests, write_warmup_file

#: Staging folders start with this (not a number), so TF Serving never loads one.
TEMP_PREFIX = STAGING_PREFIX
__all__ = [
    "WARMUP_FILE",
    "Endpoint",
    "ExportError",
    "existing_versions",
    "export_saved_model",
    "next_version",
    "non_core_ops",
    "read_warmup_requests",
    "saved_model_op_types",
    "write_warmup_requests",
]


class ExportError(ValueError):
    """Raised when an export cannot be written (bad target folder, version clash, ...)."""


def existing_versions(base_dir: str | os.PathLike) -> list[int]:
    """Integer version folders under ``base_dir`` (what TF Serving would consider), ascending."""
    base = Path(base_dir)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(base_dir: str | os.PathLike) -> int:
    """The version number a new export gets: one above the highest existing version (1 if none)."""
    versions = existing_versions(base_dir)
    return versions[-1] + 1 if versions else 1


def write_warmup_requests(
    saved_model_dir: str | os.PathLike,
    inputs: Mapping[str, Any],
    model_name: str = "model",
    signature_name: str = "serving_default",
) -> Path:
    """Write one representative request as the export's warmup file (format: ``common.warmup``)."""
    return write_warmup_file(saved_model_dir, [inputs], signature_name, model_name)


Endpoint = tuple[Callable[..., Any], Sequence[tf.TensorSpec]]


def export_saved_model(
    base_dir: str | os.PathLike,
    model: Any,
    endpoints: Mapping[str, Endpoint],
    warmup_inputs: Mapping[str, Any] | None = None,
    version: int | None = None,
    extra_trackables: Sequence[Any] = (),
) -> Path:
    """Export ``model`` with named raw-input endpoints to ``base_dir/<version>/`` atomically.

    ``endpoints`` maps a signature name (``serving_default`` required) to ``(fn, input_signature)``.
    Returns the final version folder. Nothing is left behind if any step fails; staging folders
    of earlier exports that were killed mid-write (untouched since this one began) are removed.
    """
    import keras

    if "serving_default" not in endpoints:
        raise ExportError("an export needs a 'serving_default' endpoint")
    base = Path(base_dir)
    if base.exists() and not base.is_dir():
        raise ExportError(f"export target {base} exists and is not a folder")
    base.mkdir(parents=True, exist_ok=True)
    version = next_version(base) if version is None else int(version)
    if version < 1:
        raise ExportError(f"export versions are positive integers, got {version}")
    final = base / str(version)
    if final.exists():
        raise ExportError(f"version {version} already exists in {base}; it is never overwritten")
    try:
        with staged(final, replace=False, tag=str(version), make_dir=True) as staging:
            # Leftovers of exports killed mid-write: anything untouched since this one began.
            remove_stale_staging(base, before=staging.stat().st_mtime, keep=staging)
            archive = keras.export.ExportArchive()
            archive.track(model)
            for trackable in extra_trackables:
                archive.track(trackable)
            for name, (fn, signature) in endpoints.items():
                archive.add_endpoint(name, fn, input_signature=list(signature))
            archive.write_out(str(staging), verbose=False)
            if warmup_inputs is not None:
                write_warmup_requests(staging, warmup_inputs, model_name=base.name)
    except FileExistsError as error:  # another export took this version meanwhile
        raise ExportError(f"could not publish export as {final}: {error}") from error
    return final


def saved_model_op_types(saved_model_dir: str | os.PathLike) -> set[str]:
    """Every op type used by a SavedModel: its graph plus all functions in its library."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(saved_model_dir) / "saved_model.pb").read_bytes())
    ops: set[str] = set()
    for meta_graph in proto.meta_graphs:
        ops.update(node.op for node in meta_graph.graph_def.node)
        for function in meta_graph.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


_CORE_OP_PROBE = """
import sys
for blocked in ("keras", "keras_hub", "keras_nlp", "tensorflow_text", "tensorflow_io"):
    sys.modules[blocked] = None
from tensorflow.python.framework import op_def_registry
for name in sys.stdin.read().split():
    if op_def_registry.get(name) is None:
        print(name)
"""


def non_core_ops(saved_model_dir: str | os.PathLike) -> list[str]:
    """Op types of a SavedModel missing from core TensorFlow's op registry (should be empty).

    Checked in a fresh interpreter that cannot import tensorflow_text & co., because once such a
    library is imported in this process its ops look registered.
    """
    ops = sorted(saved_model_op_types(saved_model_dir))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", _CORE_OP_PROBE],
        input="\n".join(ops),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return result.stdout.split()

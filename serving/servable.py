"""One loaded model version: its SavedModel, signatures, warmup replay and predict call.

A :class:`Servable` is immutable once loaded and safe to call from many threads at once
(TensorFlow concrete functions are thread-safe); the registry swaps whole servables in and
out, so a request that already holds one finishes on it even while a newer version loads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from serving.errors import InternalError, InvalidArgument, NotFound, ServingError
from serving.tensors import TensorSpec
from serving.warmup import WARMUP_FILE, read_warmup_requests

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"
SERVE_TAG = "serve"
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit too

#: TF error codes -> our error classes (TF Serving maps them to HTTP the same way).
_TF_ERRORS: dict[type[Exception], type[ServingError]] = {
    tf.errors.InvalidArgumentError: InvalidArgument,
    tf.errors.FailedPreconditionError: InvalidArgument,
    tf.errors.OutOfRangeError: InvalidArgument,
    tf.errors.NotFoundError: NotFound,
}


class LoadError(Exception):
    """A version could not be loaded or failed its warmup; the message says why."""


def has_saved_model(path: Path) -> bool:
    """True when ``path`` holds a SavedModel graph file."""
    return (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()


def read_meta_graph(path: Path) -> meta_graph_pb2.MetaGraphDef:
    """The ``serve``-tagged MetaGraphDef of the SavedModel at ``path``."""
    saved = saved_model_pb2.SavedModel()
    pb, pbtxt = path / "saved_model.pb", path / "saved_model.pbtxt"
    try:
        if pb.is_file():
            saved.ParseFromString(pb.read_bytes())
        else:
            text_format.Parse(pbtxt.read_text(encoding="utf-8"), saved)
    except Exception as exc:  # protobuf raises DecodeError, ParseError, ...
        raise LoadError(f"{path}: not a readable SavedModel ({exc})") from exc
    for meta_graph in saved.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    raise LoadError(f"{path}: no meta graph tagged '{SERVE_TAG}'")


def spec_from_tensor_info(name: str, info: meta_graph_pb2.TensorInfo) -> TensorSpec:
    """A :class:`TensorSpec` from a SignatureDef ``TensorInfo``."""
    if info.tensor_shape.unknown_rank:
        shape = None
    else:
        shape = tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)
    return TensorSpec(name=name, dtype=types_pb2.DataType.Name(info.dtype), shape=shape)


@dataclass(frozen=True)
class Signature:
    """A callable signature with its input and output specs."""

    name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]
    function: Any


class Servable:
    """One version of one model, loaded and warmed up."""

    def __init__(
        self,
        name: str,
        version: int,
        path: Path,
        signature_defs: Mapping[str, meta_graph_pb2.SignatureDef],
        signatures: Mapping[str, Signature],
        loaded: Any,
    ) -> None:
        self.name = name
        self.version = version
        self.path = path
        self.signature_defs = dict(signature_defs)
        self.signatures = dict(signatures)
        self._loaded = loaded  # keeps variables and functions alive

    @classmethod
    def load(cls, name: str, version: int, path: str | os.PathLike[str]) -> Servable:
        """Load the SavedModel at ``path`` and replay its warmup requests.

        Raises :class:`LoadError` when the folder is not a loadable SavedModel or a warmup
        request fails.
        """
        path = Path(path)
        meta_graph = read_meta_graph(path)
        try:
            loaded = tf.saved_model.load(str(path), tags=[SERVE_TAG])
        except Exception as exc:  # TF raises many types for corrupt models
            raise LoadError(
                f"{path}: cannot load SavedModel ({type(exc).__name__}: {exc})"
            ) from exc
        signatures = {}
        for sig_name, function in loaded.signatures.items():
            sig_def = meta_graph.signature_def.get(sig_name)
            if sig_def is None:
                continue
            signatures[sig_name] = Signature(
                name=sig_name,
                inputs={k: spec_from_tensor_info(k, v) for k, v in sig_def.inputs.items()},
                outputs={k: spec_from_tensor_info(k, v) for k, v in sig_def.outputs.items()},
                function=function,
            )
        if not signatures:
            raise LoadError(f"{path}: the SavedModel has no callable signatures")
        servable = cls(name, version, path, meta_graph.signature_def, signatures, loaded)
        count = servable.warmup()
        log.info("Loaded %s version %d from %s (%d warmup request(s))", name, version, path, count)
        return servable

    # ------------------------------------------------------------------ lookups

    def signature(self, name: str | None) -> Signature:
        """The named signature (``serving_default`` when ``name`` is empty)."""
        key = name or DEFAULT_SIGNATURE
        try:
            return self.signatures[key]
        except KeyError:
            raise NotFound(
                f"Serving signature name: '{key}' not found in signature def of model "
                f"'{self.name}' version {self.version}; available: {sorted(self.signatures)}"
            ) from None

    # ------------------------------------------------------------------ predict

    def predict(
        self,
        inputs: Mapping[str, np.ndarray],
        signature_name: str | None = None,
        output_filter: Iterable[str] = (),
    ) -> dict[str, np.ndarray]:
        """Run a signature on named arrays and return its named outputs as arrays.

        Inputs must match the signature exactly: the same names, the same dtypes (strings as
        bytes/object arrays) and compatible shapes; otherwise :class:`InvalidArgument`.
        """
        sig = self.signature(signature_name)
        missing = sorted(set(sig.inputs) - set(inputs))
        extra = sorted(set(inputs) - set(sig.inputs))
        if missing or extra:
            raise InvalidArgument(
                f"Inputs do not match signature '{sig.name}': missing {missing}, unexpected {extra}"
            )
        wanted = list(output_filter)
        unknown = [name for name in wanted if name not in sig.outputs]
        if unknown:
            raise InvalidArgument(f"output_filter names unknown output(s) {unknown}")
        tensors = {name: _to_tensor(inputs[name], spec) for name, spec in sig.inputs.items()}
        try:
            result = sig.function(**tensors)
        except tf.errors.OpError as exc:
            raise _error_for(exc) from None
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"Inputs do not fit signature '{sig.name}': {exc}") from None
        names = wanted or sorted(sig.outputs)
        return {name: result[name].numpy() for name in names}

    # ------------------------------------------------------------------ warmup

    def warmup(self) -> int:
        """Replay ``assets.extra/tf_serving_warmup_requests``; return how many ran."""
        warmup_path = self.path / WARMUP_FILE
        count = 0
        try:
            for entry in read_warmup_requests(self.path, MAX_WARMUP_RECORDS):
                if entry.WhichOneof("log_type") != "predict_log":
                    log.warning("%s: skipping non-predict warmup record", warmup_path)
                    continue
                request = entry.predict_log.request
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                self.predict(inputs, request.model_spec.signature_name or None)
                count += 1
        except ServingError as exc:
            raise LoadError(f"{warmup_path}: warmup request failed: {exc.message}") from exc
        except Exception as exc:  # corrupt record file, bad protos
            raise LoadError(f"{warmup_path}: cannot read warmup requests ({exc})") from exc
        return count


def _to_tensor(array: Any, spec: TensorSpec) -> tf.Tensor:
    """Check ``array`` against ``spec`` (dtype and shape) and make a tensor of it."""
    array = np.asarray(array)
    want = spec.numpy_dtype
    if want is np.object_:
        if array.dtype.kind not in "OS":
            raise InvalidArgument(
                f"Expects input '{spec.name}' to be DT_STRING but {_dt_name(array)} is provided"
            )
    elif array.dtype != want:
        raise InvalidArgument(
            f"Expects input '{spec.name}' to be {spec.dtype} but {_dt_name(array)} is provided"
        )
    spec.check(array)
    try:
        return tf.constant(array, dtype=tf.dtypes.as_dtype(types_pb2.DataType.Value(spec.dtype)))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"Input '{spec.name}' cannot be converted: {exc}") from None


def _dt_name(array: np.ndarray) -> str:
    try:
        return types_pb2.DataType.Name(tf.dtypes.as_dtype(array.dtype).as_datatype_enum)
    except (TypeError, ValueError):
        return str(array.dtype)


def _error_for(exc: tf.errors.OpError) -> ServingError:
    """Our error for a TF runtime error: client-caused codes -> 4xx, the rest -> 500."""
    message = _clean_tf_message(exc.message or str(exc)) or type(exc).__name__
    for tf_type, ours in _TF_ERRORS.items():
        if isinstance(exc, tf_type):
            return ours(message)
    return InternalError(message)


_TF_NOISE = (
    "Graph execution error",
    "Detected at node",
    "Detected unsupported operations",
    "<stack traces unavailable>",
)


def _clean_tf_message(text: str) -> str:
    """The useful sentence(s) of a TF error, without graph traces and node listings."""
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line[:1].isspace() and not line.startswith(_TF_NOISE)
    ]
    if lines:
        return " ".join(lines)[:2000]
    indented = [line.strip() for line in text.splitlines() if line.strip()]
    rest = [line for line in indented if not line.startswith(_TF_NOISE)]
    return (rest or indented or [""])[0][:2000]

"""Clients for TF Serving's REST and gRPC APIs (the embedded server or real TF Serving).

    client = Client("http://127.0.0.1:8501")
    client.predict("pets", {"image_bytes": [open("cat.jpg", "rb").read()]})
    # -> {"scores": array(float32, [1, K]), "classes": array(object bytes, [1, K]), ...}

    grpc_client = GrpcClient("127.0.0.1:8500")       # same methods, same return values

``inputs`` is a mapping ``input name -> value``, or a bare value for a one-input signature.
Values may be NumPy arrays, (nested) lists, ``bytes`` (sent as base64 for you), ``str`` or
numbers. ``predict`` returns ``{output name: np.ndarray}`` (sorted by name) with the
signature's dtypes; strings come back as object arrays of ``bytes`` - exactly what calling
the SavedModel's signature in-process gives after ``.numpy()``. Errors raise :mod:`serving.errors`
classes (``InvalidArgument`` is a ``ValueError``, ``NotFound`` a ``LookupError``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
import numpy as np

from serving import errors
from serving.molecules import client_inputs
from serving.tensors import TensorSpec, json_to_array, python_to_json

DEFAULT_SIGNATURE = "serving_default"
_METADATA_TTL_S = 30.0


class _SignatureCache:
    """Signature specs per (model, version, label), refreshed after a TTL or on mismatch."""

    def __init__(self, fetch: Any, ttl: float = _METADATA_TTL_S) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], tuple[float, dict[str, Any]]] = {}

    def get(
        self,
        model: str,
        version: int | None,
        label: str | None,
        signature: str | None,
        refresh: bool = False,
    ) -> tuple[dict[str, TensorSpec], dict[str, TensorSpec]]:
        key = (model, version, label)
        with self._lock:
            hit = self._entries.get(key)
        if refresh or hit is None or time.monotonic() - hit[0] > self._ttl:
            meta = self._fetch(model, version=version, label=label)
            hit = (time.monotonic(), meta)
            with self._lock:
                self._entries[key] = hit
        sig_name = signature or DEFAULT_SIGNATURE
        sig_defs = hit[1].get("metadata", {}).get("signature_def", {}).get("signature_def", {})
        if sig_name not in sig_defs:
            raise errors.NotFound(f"Model {model!r} has no signature {sig_name!r}")
        sig = sig_defs[sig_name]
        inputs = {k: TensorSpec.from_json(k, v) for k, v in sig.get("inputs", {}).items()}
        outputs = {k: TensorSpec.from_json(k, v) for k, v in sig.get("outputs", {}).items()}
        return inputs, outputs


def _named_inputs(inputs: Any, input_specs: Mapping[str, TensorSpec] | None) -> dict[str, Any]:
    """``inputs`` as a mapping; a bare value is given the signature's only input name."""
    if isinstance(inputs, Mapping):
        return dict(inputs)
    if input_specs is None or len(input_specs) != 1:
        names = sorted(input_specs or {})
        raise errors.InvalidArgument(
            f"Pass inputs as a dict of name -> value; the signature takes {names}"
        )
    return {next(iter(input_specs)): inputs}


_C = TypeVar("_C", bound="_Closing")


class _Closing:
    """``with ... as client:`` closes the client's connections on the way out."""

    def close(self) -> None:
        """Close the connections."""
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client(_Closing):
    """TF Serving REST client (``httpx``). Thread-safe; reuses connections."""

    def __init__(self, url: str = "http://127.0.0.1:8501", timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._signatures = _SignatureCache(self.metadata)

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _path(model: str, version: int | None, label: str | None) -> str:
        if version is not None and label is not None:
            raise ValueError("pass either version or label, not both")
        path = f"/v1/models/{model}"
        if version is not None:
            path += f"/versions/{int(version)}"
        elif label is not None:
            path += f"/labels/{label}"
        return path

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise errors.Unavailable(f"Cannot reach {self.url}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:500]}
        if response.status_code >= 400:
            message = body.get("error", response.text) if isinstance(body, dict) else str(body)
            raise errors.from_http(response.status_code, str(message))
        return body

    # ------------------------------------------------------------------ API

    def status(self, model: str, version: int | None = None, label: str | None = None) -> dict:
        """``GetModelStatusResponse`` as JSON: ``{"model_version_status": [...]}``."""
        return self._request("GET", self._path(model, version, label))

    def metadata(self, model: str, version: int | None = None, label: str | None = None) -> dict:
        """``{"model_spec": ..., "metadata": {"signature_def": {"signature_def": ...}}}``."""
        return self._request("GET", self._path(model, version, label) + "/metadata")

    def predict(
        self,
        model: str,
        inputs: Any,
        version: int | None = None,
        signature: str | None = None,
        *,
        label: str | None = None,
    ) -> dict[str, np.ndarray]:
        """Run ``signature`` (default ``serving_default``) on ``inputs``; columnar format."""
        input_specs, output_specs = self._signatures.get(model, version, label, signature)
        named = _named_inputs(client_inputs(inputs, input_specs), input_specs)
        body: dict[str, Any] = {"inputs": {k: python_to_json(v) for k, v in named.items()}}
        if signature:
            body["signature_name"] = signature
        answer = self._request("POST", self._path(model, version, label) + ":predict", json=body)
        outputs = answer.get("outputs")
        if not _is_named(outputs, output_specs):
            if len(output_specs) != 1:  # the signature changed since we cached it
                _, output_specs = self._signatures.get(model, version, label, signature, True)
            if len(output_specs) != 1:
                raise errors.InternalError(f"Unexpected predict response from {self.url}")
            outputs = {next(iter(output_specs)): outputs}
        return {
            name: json_to_array(
                value, output_specs.get(name) or TensorSpec(name, "DT_DOUBLE", None)
            )
            for name, value in sorted(outputs.items())
        }

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()


class GrpcClient(_Closing):
    """TF Serving gRPC client on the official ``tensorflow-serving-api`` stubs."""

    def __init__(
        self,
        target: str = "127.0.0.1:8500",
        timeout: float = 60.0,
        max_message_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        self.target = target
        self.timeout = timeout
        self._grpc = grpc
        self._channel = grpc.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ],
        )
        self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._model_stub = model_service_pb2_grpc.ModelServiceStub(self._channel)
        self._signatures = _SignatureCache(self.metadata)

    @staticmethod
    def _spec(
        spec: Any, model: str, version: int | None, label: str | None, signature: str | None = None
    ) -> None:
        if version is not None and label is not None:
            raise ValueError("pass either version or label, not both")
        spec.name = model
        if version is not None:
            spec.version.value = int(version)
        elif label is not None:
            spec.version_label = label
        if signature:
            spec.signature_name = signature

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, timeout=self.timeout)
        except self._grpc.RpcError as exc:
            raise errors.from_grpc(exc.code(), exc.details() or str(exc.code())) from None

    def status(self, model: str, version: int | None = None, label: str | None = None) -> dict:
        """Same shape as :meth:`Client.status`."""
        from tensorflow_serving.apis import get_model_status_pb2

        from serving.protos import to_json

        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, model, version, label)
        return to_json(self._call(self._model_stub.GetModelStatus, request))

    def metadata(self, model: str, version: int | None = None, label: str | None = None) -> dict:
        """Same shape as :meth:`Client.metadata`."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        from serving.protos import SIGNATURE_DEF_FIELD, metadata_json

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._spec(request.model_spec, model, version, label)
        request.metadata_field.append(SIGNATURE_DEF_FIELD)
        return metadata_json(self._call(self._predict_stub.GetModelMetadata, request))

    def predict(
        self,
        model: str,
        inputs: Any,
        version: int | None = None,
        signature: str | None = None,
        *,
        label: str | None = None,
    ) -> dict[str, np.ndarray]:
        """Same contract as :meth:`Client.predict`, over ``PredictionService.Predict``."""
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        input_specs, _ = self._signatures.get(model, version, label, signature)
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, model, version, label, signature)
        for name, value in _named_inputs(client_inputs(inputs, input_specs), input_specs).items():
            spec = input_specs.get(name)
            array = _as_array(value, spec)
            request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
        response = self._call(self._predict_stub.Predict, request)
        return {name: tf.make_ndarray(proto) for name, proto in sorted(response.outputs.items())}

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()


def _is_named(outputs: Any, specs: Mapping[str, TensorSpec]) -> bool:
    """True when a columnar ``outputs`` value is a ``{name: value}`` object."""
    return isinstance(outputs, dict) and bool(outputs) and set(outputs) <= set(specs)


def _as_array(value: Any, spec: TensorSpec | None) -> np.ndarray:
    """A value as an array of the signature's dtype (gRPC needs exact dtypes)."""
    if spec is None:  # unknown name: let the server report it
        return np.asarray(value)
    if spec.dtype == "DT_STRING":
        return json_to_array(python_to_json(value), spec)
    array = np.asarray(value)
    if array.dtype.kind in "OSUV":
        raise errors.InvalidArgument(f"Input '{spec.name}' expects {spec.dtype} numbers")
    return array.astype(spec.numpy_dtype, copy=False)

"""The gRPC API, implemented on the official ``tensorflow-serving-api`` service stubs.

``PredictionService``: ``Predict`` and ``GetModelMetadata`` (``Classify``, ``Regress`` and
``MultiInference`` answer UNIMPLEMENTED). ``ModelService``: ``GetModelStatus``
(``HandleReloadConfigRequest`` answers UNIMPLEMENTED). Errors are gRPC status codes with
the same messages the REST API puts in ``{"error": ...}``.
"""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import protos
from serving.errors import InvalidArgument, ServingError
from serving.registry import ModelRegistry
from serving.servable import Servable
from serving.tensors import STRING_ELEMENT_BYTES, check_decoded_size

log = logging.getLogger(__name__)


def _spec_target(spec: Any) -> tuple[str, int | None, str | None]:
    """(name, version, label) from a request's ``ModelSpec``."""
    version = spec.version.value if spec.HasField("version") else None
    label = spec.version_label if spec.HasField("version_label") else None
    return spec.name, version, label


def _abort(context: grpc.ServicerContext, exc: Exception) -> None:
    if isinstance(exc, ServingError):
        context.abort(exc.grpc_code, exc.message)
    log.exception("Internal error in a gRPC call")
    context.abort(grpc.StatusCode.INTERNAL, f"Internal error: {type(exc).__name__}")


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """``tensorflow.serving.PredictionService`` over a :class:`ModelRegistry`."""

    def __init__(self, registry: ModelRegistry, max_decoded_bytes: int | None = None) -> None:
        self.registry = registry
        self.max_decoded_bytes = max_decoded_bytes

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802
        try:
            name, version, label = _spec_target(request.model_spec)
            servable = self.registry.resolve(name, version, label)
            return predict_proto(servable, request, self.max_decoded_bytes)
        except Exception as exc:
            _abort(context, exc)

    def GetModelMetadata(  # noqa: N802
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> Any:
        try:
            fields = list(request.metadata_field)
            if fields != [protos.SIGNATURE_DEF_FIELD]:
                raise InvalidArgument(
                    f"Metadata field(s) {fields} not supported; ask for exactly "
                    f"['{protos.SIGNATURE_DEF_FIELD}']"
                )
            name, version, label = _spec_target(request.model_spec)
            return protos.metadata_response(self.registry.resolve(name, version, label))
        except Exception as exc:
            _abort(context, exc)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """``tensorflow.serving.ModelService`` (status only) over a :class:`ModelRegistry`."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def GetModelStatus(  # noqa: N802
        self, request: get_model_status_pb2.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> Any:
        try:
            name, version, label = _spec_target(request.model_spec)
            return protos.status_response(self.registry.status(name, version, label))
        except Exception as exc:
            _abort(context, exc)


def tensor_from_proto(
    key: str, tensor: Any, max_bytes: int | None, used: int = 0
) -> tuple[np.ndarray, int]:
    """A ``TensorProto`` as an array, checked against ``max_bytes`` *before* it is expanded.

    Returns ``(array, used)`` where ``used`` adds this tensor's decoded bytes. Negative
    dimensions, unknown ranks, unknown dtypes and oversized shapes are
    :class:`InvalidArgument`.
    """
    if tensor.tensor_shape.unknown_rank:
        raise InvalidArgument(f"Input '{key}' has an unknown rank; send a full shape")
    try:
        dtype = tf.dtypes.as_dtype(tensor.dtype)
    except (TypeError, ValueError):
        raise InvalidArgument(f"Input '{key}' has an unknown dtype ({tensor.dtype})") from None
    shape = [d.size for d in tensor.tensor_shape.dim]
    if dtype == tf.string:
        contents = sum(len(v) for v in tensor.string_val)
        used = check_decoded_size(key, shape, STRING_ELEMENT_BYTES, max_bytes, used + contents)
    else:
        used = check_decoded_size(key, shape, max(1, dtype.size), max_bytes, used)
    try:
        return tf.make_ndarray(tensor), used
    except Exception as exc:  # malformed TensorProto contents
        raise InvalidArgument(f"Input '{key}' is not a valid TensorProto: {exc}") from None


def predict_proto(
    servable: Servable, request: predict_pb2.PredictRequest, max_decoded_bytes: int | None = None
) -> predict_pb2.PredictResponse:
    """Answer a ``PredictRequest`` with ``servable``; inputs bounded by ``max_decoded_bytes``."""
    signature = servable.signature(request.model_spec.signature_name or None)
    inputs = {}
    used = 0
    for key, tensor in request.inputs.items():
        inputs[key], used = tensor_from_proto(key, tensor, max_decoded_bytes, used)
    outputs = servable.predict(inputs, signature.name, request.output_filter)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(protos.model_spec(servable.name, servable.version, signature.name))
    for key, value in outputs.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
    return response


def create_grpc_server(
    registry: ModelRegistry,
    address: str,
    max_message_bytes: int,
    workers: int = 8,
) -> tuple[grpc.Server, int]:
    """A started-not-yet gRPC server bound to ``address`` (``host:port``; port 0 = any).

    Messages over ``max_message_bytes`` get RESOURCE_EXHAUSTED; a message whose tensors
    would decode to more than that (a shape larger than its values) gets INVALID_ARGUMENT.
    Returns the server and the bound port. Raises ``OSError`` when the address is taken.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dlsuite-grpc"),
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max(max_message_bytes, 64 * 1024 * 1024)),
            ("grpc.so_reuseport", 0),  # a taken port must fail, not be shared
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionServicer(registry, max_message_bytes), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(registry), server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpcio >= 1.5x raises instead of returning 0
        raise OSError(f"cannot bind gRPC to {address}: {exc}") from None
    if port == 0:
        raise OSError(f"cannot bind gRPC to {address}")
    return server, port

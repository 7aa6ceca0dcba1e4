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

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802
        try:
            name, version, label = _spec_target(request.model_spec)
            servable = self.registry.resolve(name, version, label)
            return predict_proto(servable, request)
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


def predict_proto(
    servable: Servable, request: predict_pb2.PredictRequest
) -> predict_pb2.PredictResponse:
    """Answer a ``PredictRequest`` with ``servable``."""
    signature = servable.signature(request.model_spec.signature_name or None)
    inputs = {}
    for key, tensor in request.inputs.items():
        try:
            inputs[key] = tf.make_ndarray(tensor)
        except Exception as exc:  # malformed TensorProto contents
            raise InvalidArgument(f"Input '{key}' is not a valid TensorProto: {exc}") from None
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
        PredictionServicer(registry), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(registry), server)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:  # grpcio >= 1.5x raises instead of returning 0
        raise OSError(f"cannot bind gRPC to {address}: {exc}") from None
    if port == 0:
        raise OSError(f"cannot bind gRPC to {address}")
    return server, port

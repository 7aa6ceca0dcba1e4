"""TF Serving response messages for status and metadata, shared by REST and gRPC.

Both protocols build the same protobuf message; REST renders it with the proto3 JSON mapping
(``preserving_proto_field_name``, default values printed), which is how TF Serving's REST
API renders ``GetModelStatusResponse`` and ``GetModelMetadataResponse``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format, wrappers_pb2
from google.protobuf.message import Message
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
)

if TYPE_CHECKING:  # the clients use this module without the server side
    from serving.registry import VersionStatus
    from serving.servable import Servable

SIGNATURE_DEF_FIELD = "signature_def"


def to_json(message: Message) -> dict[str, Any]:
    """A message as TF Serving's REST API writes it."""
    return json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=True,
    )


def model_spec(name: str, version: int | None, signature_name: str = "") -> model_pb2.ModelSpec:
    """A ``ModelSpec`` naming a model, version and signature."""
    spec = model_pb2.ModelSpec(name=name, signature_name=signature_name)
    if version is not None:
        spec.version.CopyFrom(wrappers_pb2.Int64Value(value=version))
    return spec


def status_response(
    statuses: Iterable[VersionStatus],
) -> get_model_status_pb2.GetModelStatusResponse:
    """``GetModelStatusResponse`` for version states from the registry."""
    response = get_model_status_pb2.GetModelStatusResponse()
    states = get_model_status_pb2.ModelVersionStatus.State
    for status in statuses:
        entry = response.model_version_status.add()
        entry.version = status.version
        entry.state = states.Value(status.state)
        entry.status.error_code = error_codes_pb2.UNKNOWN if status.error else error_codes_pb2.OK
        entry.status.error_message = status.error
    return response


def metadata_response(servable: Servable) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """``GetModelMetadataResponse`` with the servable's ``SignatureDefMap``."""
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.CopyFrom(model_spec(servable.name, servable.version))
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, sig_def in servable.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(sig_def)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
    return response


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict[str, Any]:
    """The REST form of a metadata response (the packed ``Any`` shown unpacked)."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    if SIGNATURE_DEF_FIELD in response.metadata:
        response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_map)
    return {
        "model_spec": to_json(response.model_spec),
        "metadata": {SIGNATURE_DEF_FIELD: to_json(signature_map)},
    }

"""gRPC API through the official tensorflow-serving-api stubs, against a live server."""

from __future__ import annotations

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from serving_helpers import png_bytes
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

pytestmark = pytest.mark.timeout(120)

FEATURES = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]], np.float32)


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        yield ch


@pytest.fixture(scope="module")
def prediction(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def models(channel):
    return model_service_pb2_grpc.ModelServiceStub(channel)


def predict_request(
    model: str, inputs: dict, signature: str = "", version: int | None = None, label: str = ""
) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label:
        request.model_spec.version_label = label
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_predict_equals_in_process_and_rest(server, prediction, in_process):
    response = prediction.Predict(predict_request("tabular", {"features": FEATURES}), timeout=30)
    assert response.model_spec.name == "tabular"
    assert response.model_spec.version.value == 2
    assert response.model_spec.signature_name == "serving_default"
    scores = tf.make_ndarray(response.outputs["scores"])
    labels = tf.make_ndarray(response.outputs["label"])
    expected = in_process("tabular_v2")["serving_default"](features=FEATURES)
    np.testing.assert_array_equal(scores, expected["scores"].numpy())
    assert list(labels) == list(expected["label"].numpy())
    rest = httpx.post(
        f"{server.rest_url}/v1/models/tabular:predict", json={"inputs": FEATURES.tolist()}
    ).json()["outputs"]
    np.testing.assert_array_equal(np.array(rest["scores"], np.float32), scores)


def test_predict_version_label_and_signature(prediction, in_process):
    v1 = in_process("tabular_v1")["serving_default"](features=FEATURES)["scores"].numpy()
    for request in (
        predict_request("tabular", {"features": FEATURES}, version=1),
        predict_request("tabular", {"features": FEATURES}, label="stable"),
    ):
        response = prediction.Predict(request, timeout=30)
        assert response.model_spec.version.value == 1
        np.testing.assert_array_equal(tf.make_ndarray(response.outputs["scores"]), v1)
    request = predict_request(
        "pair",
        {"x": np.array([1.0, 2.0], np.float32), "factor": np.float32(3.0)},
        signature="scale",
    )
    response = prediction.Predict(request, timeout=30)
    np.testing.assert_array_equal(tf.make_ndarray(response.outputs["y"]), [3.0, 6.0])


def test_predict_image_bytes(prediction, in_process):
    images = np.array([png_bytes((10, 200, 30))], dtype=object)
    response = prediction.Predict(predict_request("images", {"image_bytes": images}), timeout=30)
    expected = in_process("images")["serving_default"](image_bytes=images)
    np.testing.assert_array_equal(
        tf.make_ndarray(response.outputs["mean"]), expected["mean"].numpy()
    )
    assert tf.make_ndarray(response.outputs["thumbnail_bytes"])[0].startswith(b"\x89PNG")


def test_output_filter(prediction):
    request = predict_request("tabular", {"features": FEATURES})
    request.output_filter.append("label")
    assert set(prediction.Predict(request, timeout=30).outputs) == {"label"}


def test_get_model_metadata_matches_rest(server, prediction):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "pair"
    request.metadata_field.append("signature_def")
    response = prediction.GetModelMetadata(request, timeout=30)
    assert response.model_spec.version.value == 7
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(sig_map)
    assert set(sig_map.signature_def["serving_default"].inputs) == {"a", "b"}
    rest = httpx.get(f"{server.rest_url}/v1/models/pair/metadata").json()
    assert rest["metadata"]["signature_def"] == json_format.MessageToDict(
        sig_map, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )


def test_get_model_status(models):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "tabular"
    response = models.GetModelStatus(request, timeout=30)
    available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert [(s.version, s.state) for s in response.model_version_status] == [
        (1, available),
        (2, available),
    ]
    request.model_spec.version_label = "canary"
    response = models.GetModelStatus(request, timeout=30)
    assert [s.version for s in response.model_version_status] == [2]


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda: predict_request("nope", {"features": FEATURES}), grpc.StatusCode.NOT_FOUND),
        (
            lambda: predict_request("tabular", {"features": FEATURES}, version=99),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            lambda: predict_request("tabular", {"features": FEATURES}, signature="nope"),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            lambda: predict_request("tabular", {"features": FEATURES.astype(np.float64)}),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: predict_request("tabular", {"features": FEATURES[0]}),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (lambda: predict_request("tabular", {"wrong": FEATURES}), grpc.StatusCode.INVALID_ARGUMENT),
        (
            lambda: predict_request("images", {"image_bytes": np.array([b"not an image"], object)}),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda: predict_request("../etc", {"features": FEATURES}),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
def test_errors_have_status_codes(prediction, make, code):
    with pytest.raises(grpc.RpcError) as info:
        prediction.Predict(make(), timeout=30)
    assert info.value.code() == code
    assert info.value.details()
    # The server keeps serving.
    ok = prediction.Predict(predict_request("tabular", {"features": FEATURES}), timeout=30)
    assert "scores" in ok.outputs


def test_oversized_message_is_rejected(prediction):
    big = np.zeros((30_000, 3), np.float32)  # ~360 kB > the 256 kB test limit
    with pytest.raises(grpc.RpcError) as info:
        prediction.Predict(predict_request("tabular", {"features": big}), timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

"""Resource limits: decoded-tensor size (REST + gRPC), oversized HTTP heads, stalled requests."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from conftest import MAX_BODY_BYTES, install
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.server import ModelServer

pytestmark = pytest.mark.timeout(120)

FEATURES = np.array([[1.0, 2.0, 3.0]], np.float32)


@pytest.fixture(scope="module")
def prediction(server):
    with grpc.insecure_channel(server.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def declared_shape_request(shape: list[int], dtype=tf.float32) -> predict_pb2.PredictRequest:
    """A tiny message whose one value claims to fill ``shape`` (the amplification attack)."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tabular"
    tensor = request.inputs["features"]
    tensor.dtype = dtype.as_datatype_enum
    for size in shape:
        tensor.tensor_shape.dim.add().size = size
    if dtype == tf.string:
        tensor.string_val.append(b"x")
    else:
        tensor.float_val.append(1.0)
    return request


def peak_rss_reset() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def test_grpc_shape_larger_than_its_values_is_rejected_before_expanding(prediction):
    request = declared_shape_request([2_000_000, 50])  # 400 MB of float32 from one value
    assert request.ByteSize() < 100
    can_measure = peak_rss_reset()
    before = peak_rss_bytes() if can_measure else 0
    with pytest.raises(grpc.RpcError) as info:
        prediction.Predict(request, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "max-body-bytes" in info.value.details()
    assert "2000000, 50" in info.value.details()
    if can_measure:
        assert peak_rss_bytes() - before < 100 * 2**20  # nothing near 400 MB was allocated


def test_grpc_decoded_size_limit_applies_below_the_attack_scale(prediction):
    # 100k x 3 float32 = 1.2 MB decoded from a ~20-byte message: over the 256 kB test limit.
    with pytest.raises(grpc.RpcError) as info:
        prediction.Predict(declared_shape_request([100_000, 3]), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"{MAX_BODY_BYTES}-byte limit" in info.value.details()
    # a string tensor is bounded the same way (one value repeated into every element)
    with pytest.raises(grpc.RpcError) as info:
        prediction.Predict(declared_shape_request([10**9], tf.string), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("shape", [[-5, 3], [2, -1], [-(2**40), -(2**40)]])
def test_grpc_negative_dimensions_are_rejected(prediction, shape):
    with pytest.raises(grpc.RpcError) as info:
        prediction.Predict(declared_shape_request(shape), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "negative dimension" in info.value.details()


def test_grpc_absurd_shape_does_not_overflow(prediction):
    with pytest.raises(grpc.RpcError) as info:  # 2**64 elements wraps to 0 in int64 maths
        prediction.Predict(declared_shape_request([2**32, 2**32]), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit" in info.value.details()


def test_grpc_full_requests_within_the_limit_still_work(prediction):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tabular"
    request.inputs["features"].CopyFrom(tf.make_tensor_proto(np.ones((5000, 3), np.float32)))
    response = prediction.Predict(request, timeout=30)
    assert list(tf.make_ndarray(response.outputs["scores"]).shape) == [5000, 2]


def test_rest_decoded_size_is_bounded(server):
    rows = MAX_BODY_BYTES // 9  # "[0,0,0]," ~ 8 bytes of JSON -> 12 bytes of float32
    body = ("[" + ",".join(["[0,0,0]"] * rows) + "]").encode()
    body = b'{"instances": ' + body + b"}"
    assert len(body) < MAX_BODY_BYTES
    response = httpx.post(f"{server.rest_url}/v1/models/tabular:predict", content=body, timeout=30)
    assert response.status_code == 400
    assert "max-body-bytes" in response.json()["error"]
    ok = httpx.post(
        f"{server.rest_url}/v1/models/tabular:predict",
        json={"instances": [[0, 0, 0]] * 1000},
        timeout=30,
    )
    assert ok.status_code == 200


def test_model_error_text_has_no_tensorflow_trace_marker(server):
    response = httpx.post(
        f"{server.rest_url}/v1/models/images:predict",
        json={"instances": [{"b64": base64.b64encode(b"not an image").decode()}]},
        timeout=30,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "stack traces" not in error
    assert error.startswith("Unknown image file format"), error


# ---------------------------------------------------------------------- HTTP heads, timeouts


def raw_exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("size", [200_000, 1_000_000])
def test_long_url_gets_json_error_not_a_reset(server, size):
    raw = raw_exchange(server.rest_port, b"GET /v1/models/" + b"a" * size + b" HTTP/1.1\r\n\r\n")
    status, headers, body = split_response(raw)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert "URL" in json.loads(body)["error"]


def test_huge_header_gets_json_error(server):
    request = (
        b"GET /v1/models/tabular HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 300_000 + b"\r\n\r\n"
    )
    status, headers, body = split_response(raw_exchange(server.rest_port, request))
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert "headers" in json.loads(body)["error"]
    assert httpx.get(f"{server.rest_url}/v1/models/tabular", timeout=10).status_code == 200


def test_garbage_request_line_gets_json_error(server):
    status, _, body = split_response(raw_exchange(server.rest_port, b"\x00\x01junk\r\n\r\n"))
    assert status == 400
    assert json.loads(body)["error"].startswith("Malformed HTTP request")


@pytest.fixture(scope="module")
def impatient(model_library, tmp_path_factory):
    base = tmp_path_factory.mktemp("impatient")
    install(model_library, base, "tabular", 1, "tabular_v1")
    with ModelServer(base, rest_port=0, grpc_port=None, poll_interval=0, read_timeout=0.3) as srv:
        yield srv


@pytest.mark.parametrize(
    "partial",
    [
        b'POST /v1/models/tabular:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"inst',
        b"GET /v1/models/tab",
    ],
    ids=["body", "head"],
)
def test_stalled_request_gets_408_and_is_closed(impatient, partial):
    started = time.monotonic()
    raw = raw_exchange(impatient.rest_port, partial, timeout=10)
    assert time.monotonic() - started < 5
    status, headers, body = split_response(raw)
    assert status == 408
    assert "Request Timeout" in json.loads(body)["error"]
    ok = httpx.post(
        f"{impatient.rest_url}/v1/models/tabular:predict",
        json={"instances": FEATURES.tolist()},
        timeout=10,
    )
    assert ok.status_code == 200


def test_silent_connection_is_closed(impatient):
    started = time.monotonic()
    assert raw_exchange(impatient.rest_port, b"", timeout=10) == b""
    assert time.monotonic() - started < 5


def test_slow_but_steady_body_is_not_cut(impatient):
    body = json.dumps({"instances": FEATURES.tolist()}).encode()
    head = (
        b"POST /v1/models/tabular:predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", impatient.rest_port), timeout=10) as sock:
        sock.sendall(head)
        for i in range(0, len(body), 8):  # each pause is below the 0.3 s read timeout
            time.sleep(0.05)
            sock.sendall(body[i : i + 8])
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    status, _, payload = split_response(raw)
    assert status == 200, payload
    assert "predictions" in json.loads(payload)

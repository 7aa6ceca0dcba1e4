"""Client mistakes get the documented 4xx with {"error": ...}, and the server keeps serving."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import MAX_BODY_BYTES

pytestmark = pytest.mark.timeout(120)

GOOD = {"instances": [[1.0, 2.0, 3.0]]}
PREDICT = "/v1/models/tabular:predict"


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.rest_url, timeout=30) as client:
        yield client


def body(obj) -> bytes:
    return json.dumps(obj).encode()


CASES = [
    # (id, method, path, raw body, expected status)
    ("malformed-json", "POST", PREDICT, b'{"instances": [[1, 2, 3]', 400),
    ("not-utf8", "POST", PREDICT, b'{"instances": ["\xff\xfe"]}', 400),
    ("empty-body", "POST", PREDICT, b"", 400),
    ("json-array-body", "POST", PREDICT, b"[[1, 2, 3]]", 400),
    (
        "both-instances-and-inputs",
        "POST",
        PREDICT,
        body({"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]}),
        400,
    ),
    ("neither-key", "POST", PREDICT, body({"examples": [[1, 2, 3]]}), 400),
    ("instances-not-list", "POST", PREDICT, body({"instances": {"features": [1, 2, 3]}}), 400),
    ("instances-empty", "POST", PREDICT, body({"instances": []}), 400),
    ("signature-not-string", "POST", PREDICT, body({"signature_name": 3, **GOOD}), 400),
    ("unknown-model", "POST", "/v1/models/nope:predict", body(GOOD), 404),
    ("unknown-version", "POST", "/v1/models/tabular/versions/42:predict", body(GOOD), 404),
    ("malformed-version", "POST", "/v1/models/tabular/versions/one:predict", body(GOOD), 400),
    ("negative-version", "GET", "/v1/models/tabular/versions/-1", b"", 400),
    ("huge-version", "GET", "/v1/models/tabular/versions/99999999999999999999", b"", 400),
    ("unknown-label", "POST", "/v1/models/tabular/labels/nope:predict", body(GOOD), 404),
    ("unknown-signature", "POST", PREDICT, body({"signature_name": "nope", **GOOD}), 404),
    ("unknown-model-status", "GET", "/v1/models/nope", b"", 404),
    ("unknown-model-metadata", "GET", "/v1/models/nope/metadata", b"", 404),
    ("unknown-version-status", "GET", "/v1/models/tabular/versions/9", b"", 404),
    ("unknown-version-metadata", "GET", "/v1/models/tabular/versions/9/metadata", b"", 404),
    ("string-for-float", "POST", PREDICT, body({"instances": [["a", "b", "c"]]}), 400),
    ("bool-for-float", "POST", PREDICT, body({"instances": [[True, 2, 3]]}), 400),
    ("null-for-float", "POST", PREDICT, body({"instances": [[None, 2, 3]]}), 400),
    ("object-for-float", "POST", PREDICT, body({"instances": [[{"b64": "AA=="}, 2, 3]]}), 400),
    ("float-overflow", "POST", PREDICT, body({"instances": [[1e39, 2, 3]]}), 400),
    (
        "float-for-int",
        "POST",
        "/v1/models/pair:predict",
        body({"signature_name": "count", "inputs": {"tokens": [[1.5]], "mask": [[True]]}}),
        400,
    ),
    (
        "int-out-of-range",
        "POST",
        "/v1/models/pair:predict",
        body({"signature_name": "count", "inputs": {"tokens": [[2**40]], "mask": [[True]]}}),
        400,
    ),
    (
        "number-for-bool",
        "POST",
        "/v1/models/pair:predict",
        body({"signature_name": "count", "inputs": {"tokens": [[1]], "mask": [[1]]}}),
        400,
    ),
    ("number-for-string", "POST", "/v1/models/images:predict", body({"instances": [1]}), 400),
    ("bad-b64", "POST", "/v1/models/images:predict", body({"instances": [{"b64": "@@@"}]}), 400),
    (
        "not-an-image",
        "POST",
        "/v1/models/images:predict",
        body({"instances": [{"b64": "aGVsbG8="}]}),
        400,
    ),
    ("wrong-rank-low", "POST", PREDICT, body({"inputs": [1.0, 2.0, 3.0]}), 400),
    ("wrong-rank-high", "POST", PREDICT, body({"inputs": [[[1.0, 2.0, 3.0]]]}), 400),
    ("wrong-width", "POST", PREDICT, body({"instances": [[1.0, 2.0]]}), 400),
    ("ragged-rows", "POST", PREDICT, body({"instances": [[1, 2, 3], [1, 2]]}), 400),
    ("ragged-columns", "POST", PREDICT, body({"inputs": [[1, 2, 3], [1, [2], 3]]}), 400),
    (
        "ragged-named-rows",
        "POST",
        "/v1/models/pair:predict",
        body({"instances": [{"a": [1, 2], "b": [1, 2]}, {"a": [1], "b": [1, 2]}]}),
        400,
    ),
    (
        "missing-named-input",
        "POST",
        "/v1/models/pair:predict",
        body({"inputs": {"a": [[1, 2]]}}),
        400,
    ),
    (
        "extra-named-input",
        "POST",
        "/v1/models/pair:predict",
        body({"inputs": {"a": [[1, 2]], "b": [[1, 2]], "c": [[1, 2]]}}),
        400,
    ),
    (
        "plain-list-for-two-inputs",
        "POST",
        "/v1/models/pair:predict",
        body({"instances": [[1, 2]]}),
        400,
    ),
    (
        "mixed-rows",
        "POST",
        "/v1/models/pair:predict",
        body({"instances": [{"a": [1, 2], "b": [1, 2]}, [1, 2]]}),
        400,
    ),
    (
        "scalar-input-in-rows",
        "POST",
        "/v1/models/pair:predict",
        body({"signature_name": "scale", "instances": [{"x": 1.0, "factor": 2.0}]}),
        400,
    ),
    ("deep-nesting", "POST", PREDICT, b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
    ("dotdot-name", "POST", "/v1/models/..:predict", body(GOOD), 400),
    ("dotdot-inside-name", "POST", "/v1/models/a..b:predict", body(GOOD), 400),
    ("slash-in-name", "POST", "/v1/models/a%2Fb:predict", body(GOOD), 400),
    ("backslash-in-name", "GET", "/v1/models/a%5C..%5Cb", b"", 400),
    ("traversal-status", "GET", "/v1/models/..%2F..%2Fetc/metadata", b"", 400),
    ("unknown-endpoint", "GET", "/v1/nothing", b"", 404),
    ("wrong-method", "DELETE", "/v1/models/tabular", b"", 405),
    ("classify-not-served", "POST", "/v1/models/tabular:classify", body(GOOD), 400),
    ("post-to-status", "POST", "/v1/models/tabular", body(GOOD), 400),
]


@pytest.mark.parametrize(
    "method, path, raw, status", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_request_gets_json_error_and_server_keeps_serving(http, method, path, raw, status):
    response = http.request(method, path, content=raw or None)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error, str) and error
    assert http.post(PREDICT, json=GOOD).status_code == 200


def test_error_messages_name_the_problem(http):
    both = http.post(PREDICT, json={"instances": [[1, 2, 3]], "inputs": [[1, 2, 3]]}).json()
    assert "only one of 'instances' or 'inputs'" in both["error"]
    ragged = http.post(PREDICT, json={"instances": [[1, 2, 3], [1, 2]]}).json()
    assert "ragged" in ragged["error"]
    rank = http.post(PREDICT, json={"inputs": [1.0, 2.0, 3.0]}).json()
    assert "rank 2" in rank["error"]
    dtype = http.post(PREDICT, json={"instances": [["a", "b", "c"]]}).json()
    assert "DT_FLOAT" in dtype["error"] and "string" in dtype["error"]
    missing = http.post("/v1/models/nope:predict", json=GOOD).json()
    assert missing["error"] == "Servable not found for request: Latest(nope)"
    image = http.post("/v1/models/images:predict", json={"instances": [{"b64": "aGVsbG8="}]})
    assert "image" in image.json()["error"].lower()


def test_oversized_body_gets_413(http):
    padding = " " * (MAX_BODY_BYTES + 1)
    response = http.post(PREDICT, content=b'{"instances": [[1, 2, 3]]}' + padding.encode())
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    assert http.post(PREDICT, json=GOOD).status_code == 200


def test_far_oversized_body_is_refused_without_reading(server):
    # Declared far over the limit: answered (or the connection closed) early, never a 5xx.
    with httpx.Client(base_url=server.rest_url, timeout=30) as client:
        try:
            response = client.post(PREDICT, content=b"x" * (MAX_BODY_BYTES * 8))
            assert response.status_code == 413
        except httpx.TransportError:
            pass  # the server may close the connection before the client finished sending
        assert client.post(PREDICT, json=GOOD).status_code == 200


def test_chunked_body_over_limit(http):
    def chunks():
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b" " * 4096

    response = http.post(PREDICT, content=chunks())
    assert response.status_code == 413
    assert http.post(PREDICT, json=GOOD).status_code == 200

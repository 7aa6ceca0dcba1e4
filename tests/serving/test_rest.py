"""REST API against a live embedded server: status, metadata, predict in both formats."""

from __future__ import annotations

import base64
import io
import time

import httpx
import numpy as np
import pytest
from PIL import Image
from serving_helpers import jpeg_bytes, png_bytes

pytestmark = pytest.mark.timeout(120)

FEATURES = [[1.0, 2.0, 3.0], [0.0, -1.0, 0.5], [0.25, 0.0, -2.0]]


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.rest_url, timeout=30) as client:
        yield client


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def test_binds_loopback_by_default(server):
    assert server.host == "127.0.0.1"
    assert server.rest_url.startswith("http://127.0.0.1:")


def test_status_all_versions(http):
    response = http.get("/v1/models/tabular")
    assert response.status_code == 200
    assert response.json() == {
        "model_version_status": [
            {
                "version": str(v),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for v in (1, 2)
        ]
    }


@pytest.mark.parametrize(
    "path, version",
    [
        ("/v1/models/tabular/versions/1", "1"),
        ("/v1/models/tabular/labels/stable", "1"),
        ("/v1/models/tabular/labels/canary", "2"),
        ("/v1/models/images", "1"),
    ],
)
def test_status_one_version(http, path, version):
    body = http.get(path).json()
    assert [s["version"] for s in body["model_version_status"]] == [version]
    assert body["model_version_status"][0]["state"] == "AVAILABLE"


def test_metadata_describes_signatures(http):
    body = http.get("/v1/models/pair/metadata").json()
    assert body["model_spec"] == {"name": "pair", "version": "7", "signature_name": ""}
    sigs = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "sum_only", "scale", "count"} <= set(sigs)
    default = sigs["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert default["inputs"]["a"]["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in default["inputs"]["a"]["tensor_shape"]["dim"]] == ["-1", "2"]
    assert set(default["outputs"]) == {"sum", "dot"}


@pytest.mark.parametrize(
    "path, version",
    [
        ("/v1/models/tabular/metadata", "2"),
        ("/v1/models/tabular/versions/1/metadata", "1"),
        ("/v1/models/tabular/labels/stable/metadata", "1"),
    ],
)
def test_metadata_versions(http, path, version):
    body = http.get(path).json()
    assert body["model_spec"]["version"] == version
    image_sig = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert image_sig["outputs"]["label"]["dtype"] == "DT_STRING"


def test_row_and_columnar_match_in_process(http, in_process):
    rows = http.post("/v1/models/tabular:predict", json={"instances": FEATURES})
    cols = http.post("/v1/models/tabular:predict", json={"inputs": FEATURES})
    named_rows = http.post(
        "/v1/models/tabular:predict", json={"instances": [{"features": f} for f in FEATURES]}
    )
    named_cols = http.post("/v1/models/tabular:predict", json={"inputs": {"features": FEATURES}})
    assert {r.status_code for r in (rows, cols, named_rows, named_cols)} == {200}
    predictions = rows.json()["predictions"]
    outputs = cols.json()["outputs"]
    assert named_rows.json()["predictions"] == predictions
    assert named_cols.json()["outputs"] == outputs
    # Row format: one object per instance; columnar: one list per output.
    assert [p["scores"] for p in predictions] == outputs["scores"]
    assert [p["label"] for p in predictions] == outputs["label"]
    expected = in_process("tabular_v2")["serving_default"](features=np.array(FEATURES, np.float32))
    np.testing.assert_array_equal(
        np.array(outputs["scores"], np.float32), expected["scores"].numpy()
    )
    assert [s.encode() for s in outputs["label"]] == list(expected["label"].numpy())


def test_versions_and_labels_select_weights(http, in_process):
    def scores(path):
        response = http.post(path, json={"inputs": FEATURES})
        assert response.status_code == 200, response.text
        return np.array(response.json()["outputs"]["scores"], np.float32)

    v1 = in_process("tabular_v1")["serving_default"](features=np.array(FEATURES, np.float32))
    np.testing.assert_array_equal(
        scores("/v1/models/tabular/versions/1:predict"), v1["scores"].numpy()
    )
    np.testing.assert_array_equal(
        scores("/v1/models/tabular/labels/stable:predict"), v1["scores"].numpy()
    )
    np.testing.assert_array_equal(
        scores("/v1/models/tabular/labels/canary:predict"), scores("/v1/models/tabular:predict")
    )
    assert not np.array_equal(
        scores("/v1/models/tabular/versions/1:predict"),
        scores("/v1/models/tabular/versions/2:predict"),
    )


def test_multi_input_row_and_columnar(http):
    a = [[1.0, 2.0], [3.0, 4.0]]
    b = [[0.5, 0.5], [-1.0, 2.0]]
    rows = http.post(
        "/v1/models/pair:predict",
        json={"instances": [{"a": a[0], "b": b[0]}, {"a": a[1], "b": b[1]}]},
    ).json()
    cols = http.post("/v1/models/pair:predict", json={"inputs": {"a": a, "b": b}}).json()
    assert rows == {
        "predictions": [{"sum": [1.5, 2.5], "dot": 1.5}, {"sum": [2.0, 6.0], "dot": 5.0}]
    }
    assert cols == {"outputs": {"sum": [[1.5, 2.5], [2.0, 6.0]], "dot": [1.5, 5.0]}}


def test_single_output_is_bare(http):
    body = {"signature_name": "sum_only", "instances": [{"a": [1, 2], "b": [3, 4]}]}
    assert http.post("/v1/models/pair:predict", json=body).json() == {"predictions": [[4.0, 6.0]]}
    body = {"signature_name": "sum_only", "inputs": {"a": [[1, 2]], "b": [[3, 4]]}}
    assert http.post("/v1/models/pair:predict", json=body).json() == {"outputs": [[4.0, 6.0]]}


def test_columnar_allows_different_batch_sizes(http):
    body = {"signature_name": "scale", "inputs": {"x": [1.0, 2.0, 3.0], "factor": 2.0}}
    assert http.post("/v1/models/pair:predict", json=body).json() == {"outputs": [2.0, 4.0, 6.0]}


def test_integer_and_bool_inputs(http):
    body = {
        "signature_name": "count",
        "inputs": {"tokens": [[1, 2, 3], [4, 5, 6]], "mask": [[True, False, True], [False] * 3]},
    }
    assert http.post("/v1/models/pair:predict", json=body).json() == {"outputs": [4, 0]}


def test_nan_and_infinity_accepted(http):
    response = http.post(
        "/v1/models/pair:predict",
        content=b'{"signature_name": "scale", '
        b'"inputs": {"x": [NaN, Infinity, -Infinity, 1e3], "factor": 1}}',
    )
    assert response.status_code == 200
    assert response.text.replace(" ", "") == '{"outputs":[NaN,Infinity,-Infinity,1000.0]}'


@pytest.mark.parametrize("encode", [png_bytes, jpeg_bytes])
def test_b64_images(http, in_process, encode):
    images = [encode((255, 0, 0)), encode((0, 0, 255))]
    rows = http.post("/v1/models/images:predict", json={"instances": [b64(i) for i in images]})
    cols = http.post(
        "/v1/models/images:predict", json={"inputs": {"image_bytes": [b64(i) for i in images]}}
    )
    assert rows.status_code == cols.status_code == 200, rows.text
    predictions, outputs = rows.json()["predictions"], cols.json()["outputs"]
    assert [p["mean"] for p in predictions] == outputs["mean"]
    expected = in_process("images")["serving_default"](image_bytes=np.array(images, dtype=object))
    np.testing.assert_array_equal(np.array(outputs["mean"], np.float32), expected["mean"].numpy())
    # "_bytes" outputs come back base64-encoded: they decode to real PNGs.
    thumbs = [base64.b64decode(t["b64"]) for t in outputs["thumbnail_bytes"]]
    assert thumbs == list(expected["thumbnail_bytes"].numpy())
    assert Image.open(io.BytesIO(thumbs[0])).size == (2, 2)
    assert predictions[0]["thumbnail_bytes"] == outputs["thumbnail_bytes"][0]


def test_single_b64_object_is_a_value_not_named_inputs(http):
    response = http.post("/v1/models/images:predict", json={"inputs": [b64(png_bytes((9, 9, 9)))]})
    assert response.status_code == 200
    assert len(response.json()["outputs"]["mean"]) == 1


def test_openapi_document(http):
    spec = http.get("/openapi.json").json()
    assert "/v1/models/{name}:predict" in spec["paths"]
    assert "/v1/models/{name}/labels/{label}/metadata" in spec["paths"]


def test_no_nagle_delay(http):
    """Responses must not wait for delayed ACKs (~40 ms each) - TCP_NODELAY is on."""
    http.get("/v1/models/tabular")
    timings = []
    for _ in range(15):
        start = time.perf_counter()
        http.post("/v1/models/tabular:predict", json={"inputs": FEATURES})
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[len(timings) // 2] < 0.030, timings

"""Client and GrpcClient: same inputs, same answers, same errors."""

from __future__ import annotations

import numpy as np
import pytest
from serving_helpers import png_bytes

from serving import Client, GrpcClient, InvalidArgument, NotFound, ServingError

pytestmark = pytest.mark.timeout(120)

FEATURES = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]], np.float32)


@pytest.fixture(scope="module", params=["rest", "grpc"])
def client(request, server):
    made = Client(server.rest_url) if request.param == "rest" else GrpcClient(server.grpc_target)
    with made:
        yield made


@pytest.fixture(scope="module")
def both(server):
    with Client(server.rest_url) as rest, GrpcClient(server.grpc_target) as grpc_client:
        yield rest, grpc_client


@pytest.mark.parametrize(
    "inputs",
    [
        {"features": FEATURES},
        {"features": FEATURES.tolist()},
        FEATURES,  # a bare value for a one-input signature
        FEATURES.astype(np.float64).tolist(),
    ],
    ids=["array", "list", "bare-array", "float64-list"],
)
def test_predict_input_kinds_equal_in_process(client, in_process, inputs):
    outputs = client.predict("tabular", inputs)
    expected = in_process("tabular_v2")["serving_default"](features=FEATURES)
    assert set(outputs) == {"scores", "label"}
    assert outputs["scores"].dtype == np.float32
    np.testing.assert_array_equal(outputs["scores"], expected["scores"].numpy())
    assert outputs["label"].dtype == object
    assert list(outputs["label"]) == list(expected["label"].numpy())


def test_rest_and_grpc_agree_on_everything(both):
    rest, grpc_client = both
    images = {"image_bytes": [png_bytes((200, 100, 0)), png_bytes((0, 0, 0))]}
    for model, inputs, kwargs in [
        ("tabular", {"features": FEATURES}, {"version": 1}),
        ("tabular", {"features": FEATURES}, {"label": "canary"}),
        ("images", images, {}),
        ("pair", {"a": [[1, 2]], "b": [[3, 4]]}, {}),
        ("pair", {"a": [[1, 2]], "b": [[3, 4]]}, {"signature": "sum_only"}),
        ("pair", {"x": [1.0, 2.0], "factor": 0.5}, {"signature": "scale"}),
        ("pair", {"tokens": [[1, 2]], "mask": [[True, True]]}, {"signature": "count"}),
    ]:
        a = rest.predict(model, inputs, **kwargs)
        b = grpc_client.predict(model, inputs, **kwargs)
        assert set(a) == set(b), (model, kwargs)
        for name in a:
            assert a[name].dtype == b[name].dtype, (model, name)
            np.testing.assert_array_equal(a[name], b[name])
    assert rest.status("tabular") == grpc_client.status("tabular")
    assert rest.metadata("pair") == grpc_client.metadata("pair")
    assert rest.status("tabular", version=1) == grpc_client.status("tabular", version=1)


def test_bytes_and_strings(client):
    png = png_bytes((255, 255, 255))
    single = client.predict("images", {"image_bytes": [png]})
    bare = client.predict("images", [png])
    array = client.predict("images", {"image_bytes": np.array([png], dtype=object)})
    for out in (bare, array):
        np.testing.assert_array_equal(out["mean"], single["mean"])
    np.testing.assert_allclose(single["mean"], [[1.0, 1.0, 1.0]], atol=1e-6)
    assert single["thumbnail_bytes"][0].startswith(b"\x89PNG")


def test_status_and_metadata(client):
    status = client.status("tabular")
    assert [s["version"] for s in status["model_version_status"]] == ["1", "2"]
    meta = client.metadata("tabular", version=1)
    assert meta["model_spec"]["version"] == "1"
    assert "serving_default" in meta["metadata"]["signature_def"]["signature_def"]


def test_errors_raise_typed_exceptions(client):
    with pytest.raises(NotFound):
        client.predict("nope", {"features": FEATURES})
    with pytest.raises(NotFound):
        client.status("tabular", version=77)
    with pytest.raises(NotFound):
        client.predict("tabular", {"features": FEATURES}, signature="nope")
    with pytest.raises(InvalidArgument):
        client.predict("tabular", {"features": [[1.0, 2.0]]})
    with pytest.raises(InvalidArgument):
        client.predict("pair", [[1.0, 2.0]])  # two inputs need names
    with pytest.raises(ServingError) as info:
        client.predict("tabular", {"features": [["x", "y", "z"]]})
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError):
        client.predict("tabular", FEATURES, version=1, label="stable")


def test_unreachable_server():
    with Client("http://127.0.0.1:9", timeout=2) as client, pytest.raises(ServingError):
        client.status("tabular")
    with GrpcClient("127.0.0.1:9", timeout=2) as client, pytest.raises(ServingError):
        client.status("tabular")

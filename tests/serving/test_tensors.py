"""Property tests of the JSON <-> tensor rules (no server needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from serving.errors import InvalidArgument
from serving.tensors import (
    TensorSpec,
    array_to_json,
    json_to_array,
    make_predict_response,
    parse_predict_request,
    python_to_json,
)

pytestmark = pytest.mark.timeout(120)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.fixed_dictionaries({"b64": st.text(max_size=8)}),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=20,
)
dtypes = st.sampled_from(
    [
        "DT_FLOAT",
        "DT_DOUBLE",
        "DT_HALF",
        "DT_INT8",
        "DT_INT32",
        "DT_INT64",
        "DT_UINT8",
        "DT_UINT64",
        "DT_BOOL",
        "DT_STRING",
        "DT_BFLOAT16",
        "DT_COMPLEX64",
    ]
)
shapes = st.one_of(
    st.none(), st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=3).map(tuple)
)
specs = st.builds(TensorSpec, name=st.sampled_from(["x", "y_bytes"]), dtype=dtypes, shape=shapes)


@FAST
@given(value=json_values, spec=specs)
def test_any_json_value_converts_or_is_rejected_cleanly(value, spec):
    try:
        array = json_to_array(value, spec)
    except InvalidArgument as exc:
        assert exc.message
        return
    assert array.dtype == np.dtype(spec.numpy_dtype)


@FAST
@given(
    body=json_values,
    input_specs=st.dictionaries(st.sampled_from(["a", "b", "c"]), specs, min_size=1, max_size=3),
)
def test_any_body_parses_or_is_rejected_cleanly(body, input_specs):
    named = {k: TensorSpec(k, s.dtype, s.shape) for k, s in input_specs.items()}
    for candidate in (body, {"instances": body}, {"inputs": body}):
        try:
            parse_predict_request(candidate, named)
        except InvalidArgument:
            pass


finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@FAST
@given(
    a=hnp.arrays(np.float32, st.tuples(st.integers(1, 5), st.just(3)), elements=finite_f32),
    b=st.data(),
)
def test_row_and_columnar_formats_agree(a, b):
    words = b.draw(st.lists(st.text(max_size=5), min_size=len(a), max_size=len(a)))
    specs = {
        "a": TensorSpec("a", "DT_FLOAT", (None, 3)),
        "w": TensorSpec("w", "DT_STRING", (None,)),
    }
    rows = [{"a": row.tolist(), "w": word} for row, word in zip(a, words, strict=True)]
    by_rows, fmt_rows = parse_predict_request({"instances": rows}, specs)
    by_cols, fmt_cols = parse_predict_request({"inputs": {"a": a.tolist(), "w": words}}, specs)
    assert (fmt_rows, fmt_cols) == ("row", "columnar")
    np.testing.assert_array_equal(by_rows["a"], a)
    np.testing.assert_array_equal(by_cols["a"], a)
    assert list(by_rows["w"]) == list(by_cols["w"]) == [w.encode() for w in words]
    # And the responses carry the same numbers in both layouts.
    outputs = {"a": by_rows["a"], "w_bytes": by_rows["w"]}
    row_resp = make_predict_response(outputs, "row")["predictions"]
    col_resp = make_predict_response(outputs, "columnar")["outputs"]
    assert [r["a"] for r in row_resp] == col_resp["a"]
    assert [r["w_bytes"] for r in row_resp] == col_resp["w_bytes"]


@FAST
@given(
    array=hnp.arrays(
        st.sampled_from(
            [
                np.float32,
                np.float64,
                np.float16,
                np.int8,
                np.int32,
                np.int64,
                np.uint8,
                np.uint64,
                np.bool_,
            ]
        ),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
    )
)
def test_numeric_round_trip_through_json_text(array):
    dt = {
        np.dtype(v): k
        for k, v in {
            "DT_FLOAT": np.float32,
            "DT_DOUBLE": np.float64,
            "DT_HALF": np.float16,
            "DT_INT8": np.int8,
            "DT_INT32": np.int32,
            "DT_INT64": np.int64,
            "DT_UINT8": np.uint8,
            "DT_UINT64": np.uint64,
            "DT_BOOL": np.bool_,
        }.items()
    }[array.dtype]
    text = json.dumps(array_to_json(array, "out"))
    back = json_to_array(json.loads(text), TensorSpec("out", dt, None))
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


@FAST
@given(blobs=st.lists(st.binary(max_size=20), min_size=1, max_size=4))
def test_bytes_round_trip(blobs):
    array = np.array(blobs + [b""], dtype=object)[:-1]  # keep bytes objects, not a bytes dtype
    encoded = array_to_json(array, "image_bytes")
    assert all(set(item) == {"b64"} for item in encoded)
    spec = TensorSpec("image_bytes", "DT_STRING", (None,))
    assert list(json_to_array(encoded, spec)) == blobs
    assert list(json_to_array(python_to_json(blobs), spec)) == blobs


def test_plain_string_outputs_stay_text_unless_not_utf8():
    out = array_to_json(np.array([b"caf\xc3\xa9", b"\xff\xfe"], dtype=object), "label")
    assert out[0] == "café"
    assert out[1] == {"b64": "//4="}


def test_scalar_output_needs_columnar():
    with pytest.raises(InvalidArgument, match="columnar"):
        make_predict_response({"n": np.float32(3.0)}, "row")
    assert make_predict_response({"n": np.float32(3.0)}, "columnar") == {"outputs": 3.0}

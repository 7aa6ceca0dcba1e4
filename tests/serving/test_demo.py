"""The ``dlsuite demo`` serving round trip."""

from __future__ import annotations

import numpy as np
import pytest
from serving_helpers import png_bytes

from serving.demo import format_rows, roundtrip

pytestmark = pytest.mark.timeout(120)


def test_roundtrip_rest_and_grpc_per_model(served_base, in_process):
    png = png_bytes((0, 128, 255))
    features = [[1.0, 2.0, 3.0]]
    rows = roundtrip(
        served_base, {"images": {"image_bytes": [png]}, "tabular": {"features": features}}
    )
    assert [(r["model"], r["protocol"]) for r in rows] == [
        ("images", "rest"),
        ("images", "grpc"),
        ("tabular", "rest"),
        ("tabular", "grpc"),
    ]
    assert all(r["latency_ms"] > 0 for r in rows)
    expected = in_process("tabular_v2")["serving_default"](features=np.array(features, np.float32))[
        "scores"
    ].numpy()
    for row in rows[2:]:
        np.testing.assert_array_equal(row["outputs"]["scores"], expected)
    np.testing.assert_array_equal(rows[0]["outputs"]["mean"], rows[1]["outputs"]["mean"])
    assert rows[2]["summary"] == "label=['neg']; scores=[[0.999, 0.001]]"
    table = format_rows(rows)
    assert "tabular" in table and "grpc" in table and "label=['neg']" in table

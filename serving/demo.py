"""The serving round trip of ``dlsuite demo``: embedded server, one REST and one gRPC call.

``roundtrip(models_base, {"digits": {"image_bytes": [png_bytes]}})`` starts the embedded
server on free loopback ports, sends one REST and one gRPC predict per model through
:class:`~serving.client.Client` / :class:`~serving.client.GrpcClient`, stops
the server and returns one row per call. :func:`format_rows` renders them as a table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from serving.client import Client, GrpcClient
from serving.server import ModelServer


def roundtrip(
    models_base: str | os.PathLike[str],
    requests: Mapping[str, Mapping[str, object]],
) -> list[dict[str, Any]]:
    """Serve ``models_base`` briefly and send each model one REST and one gRPC request.

    Returns rows ``{"model", "protocol" ("rest" | "grpc"), "latency_ms", "outputs",
    "summary"}`` where ``outputs`` maps output names to NumPy arrays and ``summary`` is a short
    one-line rendering of them. The server is always stopped, also when a request fails (the
    error propagates).
    """
    rows: list[dict[str, Any]] = []
    with ModelServer(models_base, rest_port=0, grpc_port=0, poll_interval=0) as server:
        with Client(server.rest_url) as rest, GrpcClient(server.grpc_target) as grpc_client:
            for model, inputs in requests.items():
                for protocol, client in (("rest", rest), ("grpc", grpc_client)):
                    start = time.perf_counter()
                    outputs = client.predict(model, dict(inputs))
                    latency_ms = (time.perf_counter() - start) * 1000
                    rows.append(
                        {
                            "model": model,
                            "protocol": protocol,
                            "latency_ms": round(latency_ms, 2),
                            "outputs": outputs,
                            "summary": summarize(outputs),
                        }
                    )
    return rows


def _short(value: np.ndarray, limit: int = 60) -> str:
    if value.dtype == object:
        value = np.vectorize(
            lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else b, otypes=[object]
        )(value)
    text = np.array2string(np.asarray(value), precision=3, threshold=6, separator=", ")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarize(outputs: Mapping[str, np.ndarray], limit: int = 60) -> str:
    """``name=value; ...`` with each value shortened to about ``limit`` characters."""
    return "; ".join(f"{k}={_short(np.asarray(v), limit)}" for k, v in outputs.items())


def format_rows(rows: list[dict[str, Any]]) -> str:
    """A plain-text table of :func:`roundtrip` rows."""
    lines = [f"{'model':<16} {'protocol':<8} {'ms':>8}  outputs"]
    for row in rows:
        outputs = summarize(row["outputs"])
        lines.append(
            f"{row['model']:<16} {row['protocol']:<8} {row['latency_ms']:>8.1f}  {outputs}"
        )
    return "\n".join(lines)

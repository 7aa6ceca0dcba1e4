"""Serving benchmark: embedded server latency / throughput and a malformed-traffic load run.

Latency: p50 / p99 and throughput of ``predict`` at batch 1 and batch 32 over REST
(``serving.Client``) and gRPC (``GrpcClient``, official stubs) with N concurrent
clients, next to the in-process SavedModel ``serving_default`` call on the same model with the
same N threads; server overhead is reported as the p50 ratio served / in-process.

Load run: 10,000 REST requests from N clients, 20 % of them malformed (bad JSON, both
``instances`` and ``inputs``, unknown model / version, wrong dtype, wrong rank, ragged rows,
an oversized body, a ``..`` model name); reports 5xx count, answers by error class and the
server process's resident memory before and after.

The server runs in its own process (``python -m serving``) on loopback ports, so its
memory is measured alone; clients share the machine's cores with it (numbers from a 2-core
box are client-bound as much as server-bound). Default model: a small MLP (64 -> 256 -> 10,
``scores`` + ``label``) built in a temp folder; ``--models-base DIR --model NAME`` benchmarks
an export instead, using its warmup request as the example input.

    python -m bench.serving [--clients 4] [--requests 400] [--load-requests 10000]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import tensorflow as tf

from bench._harness import RESULTS_DIR, start_model_server
from serving import Client, GrpcClient
from serving.warmup import read_warmup_requests, write_warmup_file

RESULTS_PATH = RESULTS_DIR / "serving.json"
LOAD_BODY_LIMIT = 1024 * 1024  # server --max-body-bytes during the run


# --------------------------------------------------------------------------- model


class _Mlp(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(0)
        self.w1 = tf.Variable(rng.normal(0, 0.1, (64, 256)).astype("float32"))
        self.w2 = tf.Variable(rng.normal(0, 0.1, (256, 10)).astype("float32"))
        self.names = tf.constant([f"class_{i}" for i in range(10)])

    @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32, name="features")])
    def serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        scores = tf.nn.softmax(tf.nn.relu(features @ self.w1) @ self.w2)
        return {"scores": scores, "label": tf.gather(self.names, tf.argmax(scores, -1))}


def build_default_model(base: Path) -> tuple[str, Path]:
    """Write the benchmark MLP as ``base/mlp/1`` with a warmup request."""
    module = _Mlp()
    path = base / "mlp" / "1"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    write_warmup_file(path, [{"features": np.zeros((1, 64), np.float32)}])
    return "mlp", path


def latest_version(base: Path, model: str) -> Path:
    versions = [int(p.name) for p in (base / model).iterdir() if p.name.isdigit()]
    if not versions:
        raise SystemExit(f"no numbered versions under {base / model}")
    return base / model / str(max(versions))


def example_inputs(version_dir: Path, batch: int) -> dict[str, np.ndarray]:
    """The first warmup request's inputs, first row repeated ``batch`` times."""
    for entry in read_warmup_requests(version_dir):
        request = entry.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        return {k: np.repeat(v[:1], batch, axis=0) for k, v in inputs.items()}
    raise SystemExit(f"{version_dir} has no warmup request to use as example input")


# --------------------------------------------------------------------------- measuring


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def in_process_call(signature: Any, tensors: dict[str, tf.Tensor]) -> Callable[[], Any]:
    """A call of a loaded signature on fixed inputs that returns NumPy outputs."""
    return lambda: {k: v.numpy() for k, v in signature(**tensors).items()}


def run_concurrent(
    make_call: Callable[[], Callable[[], Any]], clients: int, total: int, warmup: int = 5
) -> dict[str, float]:
    """``total`` calls spread over ``clients`` threads; latency percentiles and rate."""
    per_client = max(1, total // clients)
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def worker() -> None:
        call = make_call()
        for _ in range(warmup):
            call()
        barrier.wait(timeout=120)
        mine = []
        for _ in range(per_client):
            start = time.perf_counter()
            call()
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    wall = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "throughput_rps": len(latencies) / wall,
    }


# --------------------------------------------------------------------------- server process


def start_server(base: Path) -> tuple[subprocess.Popen, str, str]:
    """The embedded server on ``base`` in a child process: (process, REST URL, gRPC target)."""
    options = ["--poll-interval", "0", "--log-level", "WARNING"]
    options += ["--max-body-bytes", str(LOAD_BODY_LIMIT)]
    return start_model_server(base, options, "/openapi.json")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# --------------------------------------------------------------------------- load run


def malformed_requests(model: str, good: dict[str, Any]) -> dict[str, tuple[str, str, bytes]]:
    """Error class -> (method, path, body) for the load run."""
    name, value = next(iter(good.items()))
    row = np.asarray(value)[0].tolist()
    predict = f"/v1/models/{model}:predict"
    wrong_rank = json.dumps({"inputs": {name: row}})
    ragged = json.dumps({"instances": [row, row[:-1] or [row, row]]})
    return {
        "malformed_json": ("POST", predict, b'{"instances": [[1, 2'),
        "both_formats": (
            "POST",
            predict,
            json.dumps({"instances": [row], "inputs": [row]}).encode(),
        ),
        "unknown_model": (
            "POST",
            "/v1/models/no_such_model:predict",
            json.dumps({"instances": [row]}).encode(),
        ),
        "unknown_version": (
            "POST",
            f"/v1/models/{model}/versions/999:predict",
            json.dumps({"instances": [row]}).encode(),
        ),
        "wrong_dtype": ("POST", predict, json.dumps({"instances": [_strings_like(row)]}).encode()),
        "wrong_rank": ("POST", predict, wrong_rank.encode()),
        "ragged": ("POST", predict, ragged.encode()),
        "oversized": ("POST", predict, b'{"instances": [' + b" " * (LOAD_BODY_LIMIT + 1) + b"]}"),
        "dotdot_name": ("POST", "/v1/models/..:predict", json.dumps({"instances": [row]}).encode()),
    }


def _strings_like(value: Any) -> Any:
    if isinstance(value, list):
        return [_strings_like(v) for v in value]
    return "x" if not isinstance(value, str) else 1


def load_run(
    url: str,
    model: str,
    good: dict[str, Any],
    proc: subprocess.Popen,
    clients: int,
    total: int,
    bad_fraction: float,
) -> dict[str, Any]:
    server = psutil.Process(proc.pid)
    bad = malformed_requests(model, good)
    good_body = json.dumps(
        {"inputs": {k: np.asarray(v).tolist() for k, v in good.items()}}
    ).encode()
    rng = random.Random(0)
    plan = [
        "good" if rng.random() >= bad_fraction else rng.choice(sorted(bad)) for _ in range(total)
    ]
    by_class: dict[str, Counter] = defaultdict(Counter)
    transport_errors: Counter = Counter()
    lock = threading.Lock()
    rss_before = server.memory_info().rss

    def worker(items: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for kind in items:
                method, path, body = (
                    ("POST", f"/v1/models/{model}:predict", good_body)
                    if kind == "good"
                    else bad[kind]
                )
                try:
                    status = http.request(method, path, content=body).status_code
                except httpx.TransportError as exc:
                    with lock:
                        transport_errors[f"{kind}:{type(exc).__name__}"] += 1
                    continue
                with lock:
                    by_class[kind][status] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker, plan[i::clients]) for i in range(clients)]:
            future.result()
    wall = time.perf_counter() - start
    rss_after = server.memory_info().rss
    statuses: Counter[int] = Counter()
    for counts in by_class.values():
        statuses.update(counts)
    return {
        "requests": total,
        "malformed_fraction": bad_fraction,
        "seconds": wall,
        "throughput_rps": total / wall,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "count_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "good_not_200": sum(v for k, v in by_class["good"].items() if k != 200),
        "by_class": {
            k: {str(s): n for s, n in sorted(v.items())} for k, v in sorted(by_class.items())
        },
        "transport_errors": dict(transport_errors),
        "server_rss_mb_before": rss_before / 2**20,
        "server_rss_mb_after": rss_after / 2**20,
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serving", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--models-base", type=Path, help="serve this folder instead of the MLP")
    parser.add_argument("--model", help="model name under --models-base")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument(
        "--requests", type=int, default=400, help="timed requests per latency cell (default 400)"
    )
    parser.add_argument("--load-requests", type=int, default=10_000)
    parser.add_argument("--malformed", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        if args.models_base:
            if not args.model:
                parser.error("--models-base needs --model")
            base, model = args.models_base, args.model
        else:
            base = Path(tmp)
            model, _ = build_default_model(base)
        version_dir = latest_version(base, model)
        signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        batches = {b: example_inputs(version_dir, b) for b in (1, 32)}

        rows: list[dict[str, Any]] = []
        for batch, inputs in batches.items():
            tensors = {k: tf.constant(v) for k, v in inputs.items()}
            rows.append(
                {
                    "protocol": "in-process",
                    "batch": batch,
                    **run_concurrent(
                        functools.partial(in_process_call, signature, tensors),
                        args.clients,
                        args.requests,
                    ),
                }
            )

        proc, url, target = start_server(base)
        try:
            for batch, inputs in batches.items():
                for protocol, factory in (
                    ("rest", lambda: Client(url)),
                    ("grpc", lambda: GrpcClient(target)),
                ):

                    def make_call(factory=factory, inputs=inputs) -> Callable[[], Any]:
                        client = factory()
                        return lambda: client.predict(model, inputs)

                    rows.append(
                        {
                            "protocol": protocol,
                            "batch": batch,
                            **run_concurrent(make_call, args.clients, args.requests),
                        }
                    )
            load = load_run(
                url, model, batches[1], proc, args.clients, args.load_requests, args.malformed
            )
        finally:
            stop_server(proc)

    base_p50 = {r["batch"]: r["p50_ms"] for r in rows if r["protocol"] == "in-process"}
    for row in rows:
        row["examples_per_s"] = row["throughput_rps"] * row["batch"]
        row["p50_overhead_x"] = row["p50_ms"] / base_p50[row["batch"]]
    print_report(model, args.clients, rows, load)
    result = {
        "model": model,
        "clients": args.clients,
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "latency": rows,
        "load_run": load,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0 if load["count_5xx"] == 0 and load["good_not_200"] == 0 else 1


def print_report(
    model: str, clients: int, rows: list[dict[str, Any]], load: dict[str, Any]
) -> None:
    print(f"\nmodel {model}, {clients} concurrent clients, loopback")
    print(
        f"{'protocol':<11}{'batch':>6}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'ex/s':>10}"
        f"{'p50 vs in-proc':>16}"
    )
    for r in rows:
        print(
            f"{r['protocol']:<11}{r['batch']:>6}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['throughput_rps']:>9.1f}{r['examples_per_s']:>10.0f}{r['p50_overhead_x']:>15.1f}x"
        )
    print(
        f"\nload run: {load['requests']} REST requests, {load['malformed_fraction']:.0%} "
        f"malformed, {load['seconds']:.1f} s ({load['throughput_rps']:.0f} req/s)"
    )
    print(
        f"  5xx: {load['count_5xx']}   good requests not 200: {load['good_not_200']}   "
        f"transport errors: {sum(load['transport_errors'].values())}"
    )
    for kind, counts in load["by_class"].items():
        print(f"  {kind:<16} {counts}")
    print(
        f"  server RSS: {load['server_rss_mb_before']:.0f} MB before, "
        f"{load['server_rss_mb_after']:.0f} MB after"
    )


if __name__ == "__main__":
    sys.exit(main())

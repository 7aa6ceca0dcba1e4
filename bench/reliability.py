"""Reliability run: load + hot version changes + malformed input, amplification, loader fuzz.

Bounded and loopback only (a few minutes on 2 cores). It builds a tiny SavedModel itself,
starts the embedded server in its own process (``python -m serving``) and measures:

* **load + hot versions**: REST and gRPC clients send good requests (and a share of malformed
  ones: bad JSON, wrong dtype / rank, unknown model, a 200 kB URL, a 300 kB header, a body
  over the limit, gRPC negative dimensions) while versions are added, deleted (the served
  highest version with a lower one on disk), broken (truncated ``variables.data``) and fixed
  in place. Counted: 5xx answers, failed good requests, malformed requests that did not get
  a 4xx JSON ``{"error"}``, and whether the fixed version came back.
* **amplification**: server RSS before, during (peak) and after tiny gRPC messages that
  declare ``[2000000, 50]`` float tensors filled from one value, and REST bodies decoding to
  more than the body limit.
* **stalled request**: a body that never finishes gets 408 within the read timeout.
* **loader fuzz**: mutated files (truncated, bytes flipped, Latin-1, deep nesting, wrong JSON
  types, huge CSV fields, path traversal) into every file loader; counted by outcome, and
  any exception that is not a ``ValueError`` is listed as raw.

Writes ``bench/results/reliability.json`` and prints a table.

    python -m bench.reliability [--seconds 40] [--fuzz-per-seed 24]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import psutil
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from bench._harness import REPO_ROOT, RESULTS_DIR, SHARED_MACHINE_NOTE, load_average, write_json

RESULTS_PATH = RESULTS_DIR / "reliability.json"
BODY_LIMIT = 1024 * 1024  # the server's --max-body-bytes during the run
READ_TIMEOUT_S = 2.0
MODEL = "tiny"
FEATURES = 8


# --------------------------------------------------------------------------- model + server


class _Tiny(tf.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = tf.Variable(rng.normal(0, 0.3, (FEATURES, 3)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, FEATURES], tf.float32, name="features")])
    def serve(self, features: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"scores": tf.nn.softmax(features @ self.w)}


def build_library(root: Path) -> dict[int, Path]:
    """Three saved versions (different weights) to copy into the served folder."""
    library = {}
    for version in (1, 2, 3):
        module = _Tiny(version)
        path = root / f"lib_v{version}"
        tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
        library[version] = path
    return library


def install(library: dict[int, Path], base: Path, version: int) -> Path:
    """Copy a version in the way exports do: a hidden staging folder, then a rename."""
    staging = base / MODEL / f".tmp-{version}-bench"
    shutil.copytree(library[version if version in library else 1], staging)
    target = base / MODEL / str(version)
    staging.rename(target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(base: Path) -> tuple[subprocess.Popen, str, str]:
    rest_port, grpc_port = free_port(), free_port()
    command = [sys.executable, "-m", "serving", str(base / MODEL)]
    command += ["--port", str(rest_port), "--grpc-port", str(grpc_port)]
    command += ["--poll-interval", "0.2", "--max-body-bytes", str(BODY_LIMIT)]
    command += ["--read-timeout", str(READ_TIMEOUT_S), "--log-level", "WARNING"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO_ROOT
    )
    url = f"http://127.0.0.1:{rest_port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/v1/models/{MODEL}", timeout=2).status_code == 200:
                return proc, url, f"127.0.0.1:{grpc_port}"
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 300 s")


def stop_server(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, stderr = proc.communicate(timeout=10)
    return stderr.decode(errors="replace") if stderr else ""


# --------------------------------------------------------------------------- requests


def good_rows(rng: random.Random, batch: int = 2) -> list[list[float]]:
    return [[rng.uniform(-1, 1) for _ in range(FEATURES)] for _ in range(batch)]


def grpc_request(shape: list[int], values: np.ndarray | None = None) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL
    if values is not None:
        request.inputs["features"].CopyFrom(tf.make_tensor_proto(values))
        return request
    tensor = request.inputs["features"]
    tensor.dtype = tf.float32.as_datatype_enum
    for size in shape:
        tensor.tensor_shape.dim.add().size = size
    tensor.float_val.append(1.0)
    return request


def raw_http(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send raw bytes; (status, body) of the answer, status 0 for a reset / no answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return 0, b""
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    try:
        return int(head.split()[1]), body
    except (IndexError, ValueError):
        return 0, body


def malformed_rest(port: int) -> dict[str, Callable[[], tuple[int, bytes]]]:
    """Name -> a call returning (status, body) of one malformed REST request."""
    predict = f"/v1/models/{MODEL}:predict"

    def post(path: str, body: bytes, headers: bytes = b"") -> Callable[[], tuple[int, bytes]]:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n" + headers + b"\r\n"
        return lambda: raw_http(port, head + body)

    row = json.dumps([0.5] * FEATURES)
    return {
        "bad_json": post(predict, b'{"instances": [[1, 2'),
        "wrong_dtype": post(predict, json.dumps({"instances": [["a"] * FEATURES]}).encode()),
        "wrong_rank": post(predict, b'{"inputs": {"features": ' + row.encode() + b"}}"),
        "unknown_model": post("/v1/models/nope:predict", b'{"instances": [' + row.encode() + b"]}"),
        "long_url": post("/v1/models/" + "a" * 200_000 + ":predict", b"{}"),
        "huge_header": post(predict, b"{}", b"X-Big: " + b"b" * 300_000 + b"\r\n"),
        "body_over_limit": post(predict, b'{"instances": [' + b" " * (BODY_LIMIT + 1) + b"]}"),
        "decodes_over_limit": post(
            predict, b'{"instances": [' + b",".join([b"[0,0,0,0,0,0,0,0]"] * 55_000) + b"]}"
        ),
    }


# --------------------------------------------------------------------------- phase 1: load


class Tally:
    """Thread-safe counters of the load phase."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def add(self, key: str, example: str = "") -> None:
        with self.lock:
            self.counts[key] += 1
            if example and key not in self.examples:
                self.examples[key] = example[:300]


def status_of(url: str) -> dict[int, str]:
    try:
        body = httpx.get(f"{url}/v1/models/{MODEL}", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return {int(s["version"]): s["state"] for s in body.get("model_version_status", [])}


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def version_changes(
    base: Path, library: dict[int, Path], url: str, stop: threading.Event, tally: Tally
) -> None:
    """Cycle: add v2, delete it (v1 takes over), add a broken v3, fix it in place, delete it."""
    while not stop.is_set():
        install(library, base, 2)
        tally.add("changes")
        ok = wait_for(lambda: status_of(url).get(2) == "AVAILABLE")
        tally.add(
            "change_ok" if ok else "change_stuck", "" if ok else "v2 did not become AVAILABLE"
        )
        shutil.rmtree(base / MODEL / "2")
        tally.add("changes")
        ok = wait_for(lambda: 2 not in status_of(url))
        tally.add("change_ok" if ok else "change_stuck", "" if ok else "deleted v2 still listed")
        broken = install(library, base, 3)
        (data,) = (broken / "variables").glob("variables.data-*")
        good = data.read_bytes()
        with open(data, "r+b") as handle:
            handle.truncate(len(good) // 2)
        tally.add("changes")
        ok = wait_for(lambda: status_of(url).get(3) == "END")
        tally.add("change_ok" if ok else "change_stuck", "" if ok else "broken v3 not END")
        with open(data, "r+b") as handle:  # the in-place fix
            handle.write(good)
        tally.add("changes")
        ok = wait_for(lambda: status_of(url).get(3) == "AVAILABLE")
        tally.add("fixed_version_retried" if ok else "fixed_version_not_retried")
        shutil.rmtree(base / MODEL / "3")
        tally.add("changes")
        ok = wait_for(lambda: 3 not in status_of(url))
        tally.add("change_ok" if ok else "change_stuck", "" if ok else "deleted v3 still listed")


def client_loop(
    kind: str, url: str, target: str, port: int, stop: threading.Event, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)
    bad = malformed_rest(port)
    with httpx.Client(base_url=url, timeout=30) as http, grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        while not stop.is_set():
            if rng.random() < 0.15:
                name = rng.choice(sorted(bad))
                status, body = bad[name]()
                tally.add("malformed_sent")
                if status >= 500:
                    tally.add("5xx", f"{name}: {status} {body[:200]!r}")
                try:
                    is_json_error = 400 <= status < 500 and "error" in json.loads(body)
                except ValueError:
                    is_json_error = False
                if not is_json_error:
                    tally.add("malformed_not_4xx_json", f"{name}: {status} {body[:200]!r}")
                continue
            rows = good_rows(rng)
            tally.add("good_sent")
            try:
                if kind == "rest":
                    response = http.post(f"/v1/models/{MODEL}:predict", json={"instances": rows})
                    if response.status_code >= 500:
                        tally.add("5xx", f"good: {response.status_code} {response.text[:200]}")
                    if response.status_code != 200:
                        tally.add("good_failed", f"rest {response.status_code} {response.text}")
                else:
                    request = grpc_request([], np.array(rows, np.float32))
                    stub.Predict(request, timeout=30)
            except grpc.RpcError as exc:
                code = exc.code()
                if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                    tally.add("5xx", f"grpc {code.name}: {exc.details()}")
                tally.add("good_failed", f"grpc {code.name}: {exc.details()}")
            except httpx.HTTPError as exc:
                tally.add("good_failed", f"rest transport: {exc!r}")
            if rng.random() < 0.05:  # gRPC negative dimension
                try:
                    stub.Predict(grpc_request([-5, FEATURES]), timeout=30)
                    tally.add("malformed_not_4xx_json", "grpc negative dims accepted")
                except grpc.RpcError as exc:
                    tally.add("malformed_sent")
                    if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
                        tally.add("malformed_not_4xx_json", f"grpc negative: {exc.code().name}")


def load_phase(
    base: Path, library: dict[int, Path], url: str, target: str, seconds: float
) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    tally, stop = Tally(), threading.Event()
    threads = [
        threading.Thread(target=client_loop, args=(kind, url, target, port, stop, tally, i))
        for i, kind in enumerate(["rest", "rest", "grpc", "grpc"])
    ]
    changer = threading.Thread(target=version_changes, args=(base, library, url, stop, tally))
    started = time.monotonic()
    for thread in [*threads, changer]:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in [*threads, changer]:
        thread.join(120)
    elapsed = time.monotonic() - started
    counts = tally.counts
    return {
        "seconds": round(elapsed, 1),
        "good_requests": counts["good_sent"],
        "good_requests_per_s": round(counts["good_sent"] / elapsed, 1),
        "failed_good_requests": counts["good_failed"],
        "malformed_requests": counts["malformed_sent"],
        "malformed_not_answered_4xx_json": counts["malformed_not_4xx_json"],
        "5xx": counts["5xx"],
        "version_changes": counts["changes"],
        "version_changes_stuck": counts["change_stuck"],
        "fixed_in_place_versions_retried": counts["fixed_version_retried"],
        "fixed_in_place_versions_not_retried": counts["fixed_version_not_retried"],
        "examples": tally.examples,
    }


# --------------------------------------------------------------------------- phase 2: memory


def amplification_phase(proc: subprocess.Popen, url: str, target: str) -> dict[str, Any]:
    server = psutil.Process(proc.pid)
    before = server.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    codes: Counter[str] = Counter()
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        for shape in ([2_000_000, 50], [2_000_000, 25], [10**6, FEATURES], [2**32, 2**32]):
            for _ in range(5):
                try:
                    stub.Predict(grpc_request(shape), timeout=60)
                    codes["OK"] += 1
                except grpc.RpcError as exc:
                    codes[exc.code().name] += 1
    port = int(url.rsplit(":", 1)[1])
    attack = malformed_rest(port)["decodes_over_limit"]
    for _ in range(5):
        status, _ = attack()
        codes[f"REST {status}"] += 1
    time.sleep(0.5)
    done.set()
    sampler.join()
    after = server.memory_info().rss
    mib = 2**20
    return {
        "attack_message_bytes": grpc_request([2_000_000, 50]).ByteSize(),
        "answers": dict(codes),
        "rss_before_mib": round(before / mib, 1),
        "rss_peak_mib": round(peak / mib, 1),
        "rss_after_mib": round(after / mib, 1),
        "rss_growth_mib": round((after - before) / mib, 1),
    }


def stalled_request_phase(url: str) -> dict[str, Any]:
    port = int(url.rsplit(":", 1)[1])
    head = f"POST /v1/models/{MODEL}:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    started = time.monotonic()
    status, body = raw_http(port, head.encode() + b'{"inst', timeout=READ_TIMEOUT_S * 5)
    return {
        "status": status,
        "closed_after_s": round(time.monotonic() - started, 2),
        "read_timeout_s": READ_TIMEOUT_S,
        "body": body[:200].decode(errors="replace"),
    }


# --------------------------------------------------------------------------- phase 3: fuzz


def _mutations(seed: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Truncations, byte flips, insertions of non-UTF-8 bytes, duplications."""
    out = [b"", seed[: len(seed) // 2], seed[:1], seed + b"\xff\xfe", b"\xe9" + seed]
    while len(out) < count:
        data = bytearray(seed)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            if not data:
                break
            at = rng.randrange(len(data))
            if op < 0.4:
                data[at] = rng.randrange(256)
            elif op < 0.6:
                del data[at : at + rng.randint(1, 16)]
            elif op < 0.8:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            else:
                data = data[:at]
        out.append(bytes(data))
    return out


def _json_variants(doc: Any, rng: random.Random, count: int) -> list[bytes]:
    """Structural JSON mutations: values replaced by wrong types, keys dropped, deep nesting."""
    replacements: list[Any] = [None, 3, -1, "x", [], {}, [1, 2, 3], True, "../../etc/hostname"]
    out = [b"[" * 50_000 + b"]" * 50_000, json.dumps([doc]).encode()]
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in node:
                paths.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for i in range(len(node)):
                paths.append((node, i))
                walk(node[i])

    walk(doc)
    while len(out) < count:
        container, key = rng.choice(paths)
        original = container[key]
        if isinstance(container, dict) and rng.random() < 0.3:
            del container[key]
            out.append(json.dumps(doc).encode())
            container[key] = original
        else:
            container[key] = rng.choice(replacements)
            out.append(json.dumps(doc).encode())
            container[key] = original
    return out


def _seeds(folder: Path, n: int) -> dict[str, tuple[str, list[bytes], Callable[[Path], Any]]]:
    """Loader name -> (file name, bad contents, load call), from small valid seed files."""
    from PIL import Image

    from health.io import read as read_medical
    from health.io_nifti import write_nifti
    from nlp.data import load_text_csv, read_conll
    from nlp.qa.squad import read_squad
    from speech.data import load_manifest
    from speech.features import encode_wav, read_audio
    from vision.data import parse_voc_annotation
    from vision.detection.data import load_coco
    from vision.segmentation.data import read_mask

    rng = random.Random(0)
    Image.new("RGB", (12, 10), (5, 6, 7)).save(folder / "a.png")
    wav = encode_wav(np.sin(np.linspace(0, 50, 800)).astype(np.float32) * 0.3, 8000)
    (folder / "a.wav").write_bytes(wav)
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "height": 10, "width": 12}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 4]}],
        "categories": [{"id": 1, "name": "box"}],
    }
    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Paris is in France.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "Where?",
                                "answers": [{"text": "France", "answer_start": 12}],
                            },
                            {"id": "q2", "question": "Why?", "is_impossible": True, "answers": []},
                        ],
                    }
                ],
            }
        ],
    }
    conll = b"-DOCSTART- O\n\nParis B-LOC\nis O\nnice O\n\nBob B-PER\n"
    text_csv = b"text,label\ngood film,pos\nbad film,neg\n"
    manifest = b"path,transcript\na.wav,hello there\n"
    voc = (
        b"<annotation><filename>a.png</filename><object><name>cat</name><bndbox><xmin>1</xmin>"
        b"<ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"
    )
    nifti = write_nifti(np.ones((3, 4, 5), np.float32), folder / "seed.nii", spacing=(1, 1, 1))
    png = (folder / "a.png").read_bytes()
    mask_path = folder / "mask_seed.png"
    Image.fromarray(np.zeros((6, 6), np.uint8), mode="L").save(mask_path)
    huge = [b'path,transcript\na.wav,"' + b"x" * 200_000 + b'"\n', b"path,transcript\na.wav\n"]
    return {
        "read_conll": ("x.conll", _mutations(conll, rng, n), read_conll),
        "load_text_csv": (
            "x.csv",
            _mutations(text_csv, rng, n) + [b'text,label\n"' + b"x" * 200_000 + b'",a\n'],
            load_text_csv,
        ),
        "read_squad": (
            "x.json",
            _json_variants(squad, rng, n) + _mutations(json.dumps(squad).encode(), rng, n // 2),
            read_squad,
        ),
        "load_coco": (
            "instances.json",
            _json_variants(coco, rng, n) + _mutations(json.dumps(coco).encode(), rng, n // 2),
            load_coco,
        ),
        "load_manifest": ("m.csv", _mutations(manifest, rng, n) + huge, load_manifest),
        "parse_voc_annotation": ("x.xml", _mutations(voc, rng, n), parse_voc_annotation),
        "read_audio": ("x.wav", _mutations(wav, rng, n), lambda p: read_audio(str(p), 8000)),
        "read_mask": ("m.png", _mutations(mask_path.read_bytes(), rng, n), read_mask),
        "health.read (NIfTI)": ("v.nii", _mutations(nifti.read_bytes(), rng, n), read_medical),
        "health.read (PNG)": ("x.png", _mutations(png, rng, n), read_medical),
    }


def fuzz_phase(per_seed: int) -> dict[str, Any]:
    import warnings

    per_loader: dict[str, dict[str, int]] = {}
    raw: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for loader, (name, contents, load) in _seeds(folder, per_seed).items():
            outcome: Counter[str] = Counter()
            for i, content in enumerate(contents):
                path = folder / name
                path.write_bytes(content)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        load(path)
                    outcome["loaded"] += 1
                except ValueError as exc:
                    outcome["ValueError"] += 1
                    if name not in str(exc) and path.stem not in str(exc):
                        outcome["ValueError without file name"] += 1
                        raw.append(f"{loader} #{i}: ValueError without file name: {exc}"[:300])
                except Exception as exc:  # the thing this phase looks for
                    outcome["raw"] += 1
                    where = traceback.extract_tb(exc.__traceback__)[-1]
                    raw.append(
                        f"{loader} #{i}: {type(exc).__name__}: {exc} "
                        f"({Path(where.filename).name}:{where.lineno})"[:300]
                    )
            per_loader[loader] = dict(outcome)
    total = sum(
        o.get("loaded", 0) + o.get("ValueError", 0) + o.get("raw", 0) for o in per_loader.values()
    )
    return {
        "files": total,
        "raw_exceptions": sum(o.get("raw", 0) for o in per_loader.values()),
        "value_errors_without_file_name": sum(
            o.get("ValueError without file name", 0) for o in per_loader.values()
        ),
        "seconds": round(time.monotonic() - started, 1),
        "per_loader": per_loader,
        "raw_examples": raw[:20],
    }


# --------------------------------------------------------------------------- main


def print_table(result: dict[str, Any]) -> None:
    load, memory, fuzz = result["load"], result["amplification"], result["loader_fuzz"]
    stalled = result["stalled_request"]
    rows = [
        ("5xx answers (load + attacks)", load["5xx"]),
        ("good requests sent (REST + gRPC)", load["good_requests"]),
        ("failed good requests during version changes", load["failed_good_requests"]),
        ("version changes (add / delete served / break / fix)", load["version_changes"]),
        ("in-place fixed versions retried", load["fixed_in_place_versions_retried"]),
        ("malformed requests sent", load["malformed_requests"]),
        ("malformed requests not answered 4xx {error}", load["malformed_not_answered_4xx_json"]),
        ("server RSS before amplification attack (MiB)", memory["rss_before_mib"]),
        ("server RSS peak during attack (MiB)", memory["rss_peak_mib"]),
        ("server RSS after attack (MiB)", memory["rss_after_mib"]),
        (
            "stalled body: status / closed after (s)",
            "{status} / {closed_after_s}".format(**stalled),
        ),
        ("loader fuzz files", fuzz["files"]),
        ("raw (non-ValueError) loader exceptions", fuzz["raw_exceptions"]),
        ("loader ValueErrors not naming the file", fuzz["value_errors_without_file_name"]),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the load phase")
    parser.add_argument("--fuzz-per-seed", type=int, default=24, help="mutations per seed file")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"benchmark": "reliability", "body_limit_bytes": BODY_LIMIT}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        library = build_library(root / "library")
        base = root / "models"
        install(library, base, 1)
        proc, url, target = start_server(base)
        try:
            result["load"] = load_phase(base, library, url, target, args.seconds)
            result["amplification"] = amplification_phase(proc, url, target)
            result["stalled_request"] = stalled_request_phase(url)
        finally:
            stderr = stop_server(proc)
        result["server_log_lines_printed_twice"] = sum(
            1 for line in stderr.splitlines() if line.startswith(("ERROR:serving", "INFO:serving"))
        )
    result["loader_fuzz"] = fuzz_phase(args.fuzz_per_seed)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "tensorflow": tf.__version__,
        "note": SHARED_MACHINE_NOTE,
    }
    print_table(result)
    print(f"wrote {write_json(args.output, result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

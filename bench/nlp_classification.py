"""SST-2 sentiment benchmark for ``nlp.TextClassifier``: from scratch and with MiniLM.

Quality: accuracy / macro-F1 on the SST-2 dev set (872 sentences) after training on the 67k
training sentences; training wall-clock time. Speed, as a same-run ratio: sentences/s of the
exported SavedModel (raw ``tf.string`` in, tokenisation in-graph) over the Python path
(``predict_proba``: the same core-op tokenizer eagerly + model calls), same texts, same batch.
``accuracy_export_raw_text``: the SavedModel's ``serving_default`` on the raw dev sentences (its
top class), beside the Python ``accuracy``. Each row records the task's full ``config`` and the
bench arguments; ``--rerun RESULTS.json MODEL`` trains and scores that row again.

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
import tempfile
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from bench._harness import (
    DATA_ROOT,
    PAUSED,
    RESULTS_DIR,
    SHARED_MACHINE_NOTE,
    add_rerun_argument,
    add_slice_arguments,
    bench_parser,
    load_average,
    merge_result,
    minilm_installed,
    recorded_row,
    resumable_fit,
    text_throughput,
)
from nlp import TextClassifier
from nlp.data import TextData

DEFAULT_DATA = DATA_ROOT / "sst2"
RESULTS_PATH = RESULTS_DIR / "nlp_classification.json"
CLASSES = ["negative", "positive"]

SCRATCH: dict[str, Any] = dict(
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
SCRATCH_CANDIDATES: dict[str, dict[str, Any]] = {
    "mean pooling": SCRATCH,
    "mean+max pooling, word dropout 0.1": {**SCRATCH, "pooling": "mean_max", "token_dropout": 0.1},
    "mean+max pooling, word dropout 0.2, dropout 0.3": {
        **SCRATCH,
        "pooling": "mean_max",
        "token_dropout": 0.2,
        "dropout": 0.3,
    },
}
MINILM: dict[str, Any] = dict(
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


# --------------------------------------------------------------------------- SST-2
def run(
    name: str,
    options: dict[str, Any],
    train: TextData,
    dev: TextData,
    args: argparse.Namespace,
    work_dir: Path | None,
) -> dict[str, Any] | None:
    task = TextClassifier(**{"classes": CLASSES, "seed": args.seed, **options})
    load_before = load_average()
    epochs = args.epochs if name.startswith("transformer") else args.pretrained_epochs
    spent = resumable_fit(
        task,
        train,
        epochs,
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
        speed = text_throughput(served, lambda t: task.predict_proba(t, batch_size=64), dev.texts)
        top = [
            c.decode()
            for i in range(0, len(dev.texts), 64)
            for c in served(text=tf.constant(dev.texts[i : i + 64]))["classes"][:, 0].numpy()
        ]
    export_accuracy = sum(p == t for p, t in zip(top, dev.labels, strict=True)) / len(top)
    return {
        "model": name,
        "train_examples": len(train),
        "epochs": epochs,
        "accuracy": round(report["accuracy"], 4),
        "accuracy_export_raw_text": round(export_accuracy, 4),
        "macro_f1": round(report["macro_f1"], 4),
        "train_s": round(spent["train_s"], 1),
        "train_cpu_s": round(spent["train_cpu_s"], 1),
        **speed,
        "options": {k: v for k, v in options.items()},
        "config": task.config.to_dict(),
        "bench_args": {"epochs": epochs, "train_limit": args.train_limit, "seed": args.seed},
        "load_average_start_end": [load_before, load_average()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
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
    add_slice_arguments(parser, checkpoint_every=300)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument("--name", default=None, help="row name (default: the section's name)")
    add_rerun_argument(parser)
    args = parser.parse_args(argv)
    rerun = recorded_row(parser, args.rerun)
    if rerun is not None:
        args.train_limit, args.seed = (rerun["bench_args"][k] for k in ("train_limit", "seed"))
        args.epochs = args.pretrained_epochs = rerun["bench_args"]["epochs"]

    train = read_sst2(args.data / "train.tsv.gz", "sentence")
    dev = read_sst2(args.data / "dev.tsv", "content")
    if args.train_limit:
        train = TextData(train.texts[: args.train_limit], train.labels[: args.train_limit], CLASSES)
    header = {
        "benchmark": "nlp_classification",
        "dataset": "SST-2 dev (872 sentences); trained on SST-2 train",
        "note": SHARED_MACHINE_NOTE,
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
    if rerun is not None:
        config = {k: v for k, v in rerun["config"].items() if k != "classes"}
        sections.append((rerun["model"], config))
    elif args.section in ("scratch", "all"):
        recorded = (
            json.loads(args.output.read_text()).get("scratch_selection", {})
            if args.output.is_file()
            else {}
        )
        choice = args.scratch_config or recorded.get("chosen", "mean pooling")
        sections.append(("transformer (scratch)", SCRATCH_CANDIDATES[choice]))
    if rerun is None and args.section in ("minilm", "all") and minilm_installed():
        sections.append(("MiniLM-L6 (fine-tuned)", MINILM))
    rows = []
    for name, options in sections:
        work_dir = args.work_dir / name.split()[0] if args.work_dir else None
        row = run(name, options, train, dev, args, work_dir)
        if row is not None and args.name:
            row["model"] = args.name
        if row is None:
            return PAUSED
        merge_result(args.output, header, row)
        rows.append(row)
    for row in rows:
        print(" | ".join(f"{k}={v}" for k, v in row.items() if k != "options"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

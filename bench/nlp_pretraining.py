"""Masked-language-model pretraining benchmark: SST-2 from scratch, with and without MLM.

``nlp.pretrain_masked_lm`` pretrains a small BERT (the size of ``TextClassifier``'s from-scratch
encoder: 2 layers, 64 wide) on SST-2 *training* sentences without their labels, then
``TextClassifier(preset=folder)`` fine-tunes it on a labelled subset (a different random subset
per seed). The baseline is ``TextClassifier`` from scratch with the same sizes, vocabulary size,
learning rate, batch and epochs. Scored on the SST-2 dev set (872 sentences, never trained or
tuned on) by the exported SavedModel on the raw sentences (``accuracy_export_raw_text``) beside
the Python path. One pretraining run (seed 0) is shared by the seeds. ``--control`` adds the rows
``bert_random_init`` to the JSON: the same BERT and vocabulary without pretraining, which
separates the effect of pretraining from that of the architecture.

    python -m bench.nlp_pretraining [--data ../shared/data/sst2] [--seeds 0,1]
"""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import nlp
from bench._harness import (
    DATA_ROOT,
    RESULTS_DIR,
    bench_parser,
    load_average,
    write_json,
    write_rows,
)
from nlp.data import TextData

CLASSES = ["negative", "positive"]
TARGETS = {"pretrained_minus_scratch_accuracy": 0.0}
SIZES: dict[str, Any] = dict(
    sequence_length=64, embed_dim=64, num_layers=2, num_heads=4, intermediate_dim=128
)
#: Fine-tuning options shared by both rows (only the encoder's starting point differs).
FINE_TUNE: dict[str, Any] = dict(**SIZES, dropout=0.1, learning_rate=1e-3, batch_size=64)


def read_sst2(path: Path, text_column: str) -> TextData:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return TextData(
        [r[text_column] for r in rows], [CLASSES[int(r["label"])] for r in rows], CLASSES
    )


def score(task: nlp.TextClassifier, dev: TextData) -> dict[str, float]:
    """Python-path accuracy and the export's accuracy on the raw dev sentences."""
    python = float(task.evaluate(dev)["accuracy"])
    with tempfile.TemporaryDirectory() as tmp:
        version = task.export(Path(tmp) / "model")
        serve = tf.saved_model.load(str(version)).signatures["serving_default"]
        top = [
            serve(text=tf.constant(dev.texts[i : i + 128]))["classes"].numpy()[:, 0]
            for i in range(0, len(dev.texts), 128)
        ]
    predicted = [c.decode() for c in np.concatenate(top)]
    exported = float(np.mean([p == t for p, t in zip(predicted, dev.labels, strict=True)]))
    return {"accuracy": python, "accuracy_export_raw_text": exported}


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", type=Path, default=DATA_ROOT / "sst2")
    parser.add_argument("--seeds", default="0,1", help="label-subset / fine-tuning seeds")
    parser.add_argument("--pretrain-texts", type=int, default=15000, help="unlabelled sentences")
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--labelled", type=int, default=4000, help="labelled sentences (~6 %%)")
    parser.add_argument("--fine-tune-epochs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "nlp_pretraining.json")
    parser.add_argument(
        "--control", action="store_true", help="add the random-init BERT rows to --output"
    )
    parser.add_argument(
        "--skip-scratch", action="store_true", help="only the MLM-pretrained rows (longer runs)"
    )
    args = parser.parse_args(argv)
    if args.control:
        return control(args)
    train = read_sst2(args.data / "train.tsv.gz", "sentence")
    dev = read_sst2(args.data / "dev.tsv", "content")
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    unlabelled = [train.texts[i] for i in rng.permutation(len(train.texts))[: args.pretrain_texts]]
    pretrain_options = dict(
        **SIZES, vocabulary_size=8000, epochs=args.pretrain_epochs, batch_size=128, seed=0
    )
    with tempfile.TemporaryDirectory() as tmp:
        preset = str(
            nlp.pretrain_masked_lm(unlabelled, Path(tmp) / "mlm", verbose=2, **pretrain_options)
        )
        pretrain_seconds = time.perf_counter() - start
        rows = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            chosen = np.random.default_rng(seed).permutation(len(train.texts))[: args.labelled]
            subset = TextData(
                [train.texts[i] for i in chosen], [train.labels[i] for i in chosen], CLASSES
            )
            models: list[tuple[str, dict[str, Any]]] = [
                ("scratch", {"vocabulary_size": 8000}),
                ("mlm_pretrained", {"preset": preset}),
            ]
            for name, extra in models[1:] if args.skip_scratch else models:
                began = time.perf_counter()
                task = nlp.TextClassifier(classes=CLASSES, seed=seed, **FINE_TUNE, **extra)
                task.fit(subset, epochs=args.fine_tune_epochs, verbose=0)
                config = task.config.to_dict()
                config["preset"] = (
                    "mlm_pretrained (temporary folder)" if "preset" in extra else None
                )
                row = {
                    "model": name,
                    "seed": seed,
                    "labelled_sentences": len(subset.texts),
                    **score(task, dev),
                    "fine_tune_seconds": round(time.perf_counter() - began, 1),
                    "config": config,
                    "load_average": load_average(),
                }
                print(name, seed, row["accuracy"], row["accuracy_export_raw_text"], flush=True)
                rows.append(row)
    summary = {}
    for name in sorted({r["model"] for r in rows}):
        accuracies = [r["accuracy_export_raw_text"] for r in rows if r["model"] == name]
        summary[name] = {"mean": float(np.mean(accuracies)), "std": float(np.std(accuracies))}
    gain = (
        summary["mlm_pretrained"]["mean"] - summary["scratch"]["mean"]
        if "scratch" in summary
        else None
    )
    print(f"{'model':<16} {'export acc mean':>16} {'std':>8}")
    for name, stats in summary.items():
        print(f"{name:<16} {stats['mean']:>16.4f} {stats['std']:>8.4f}")
    if gain is not None:
        print(f"gain (pretrained - scratch): {gain:+.4f}")
    payload = write_rows(args.output, "nlp_pretraining", TARGETS, rows)
    payload.update(
        summary=summary,
        pretrained_minus_scratch_accuracy=gain,
        pretraining={
            **pretrain_options,
            "texts": len(unlabelled),
            "seconds": round(pretrain_seconds, 1),
        },
        args={k: str(v) for k, v in vars(args).items()},
        seconds=round(time.perf_counter() - start, 1),
    )
    write_json(args.output, payload)
    return 0


def random_init_preset(texts: list[str], folder: Path, seed: int = 0) -> str:
    """The pretraining's BERT and vocabulary (the same options and texts), without training."""
    import keras
    import keras_hub

    from nlp.tokenization import train_vocabulary

    keras.utils.set_random_seed(seed)
    vocabulary = train_vocabulary(texts[:: max(1, len(texts) // 20000)], 8000)
    keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=SIZES["num_layers"],
        num_heads=SIZES["num_heads"],
        hidden_dim=SIZES["embed_dim"],
        intermediate_dim=SIZES["intermediate_dim"],
        dropout=0.1,
        max_sequence_length=SIZES["sequence_length"],
    ).save_to_preset(str(folder))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(
        str(folder)
    )
    return str(folder)


def control(args: Any) -> int:
    """Fine-tune the untrained BERT with the recorded run's options; merge its rows."""
    payload = json.loads(args.output.read_text())
    recorded = payload["args"]
    train = read_sst2(args.data / "train.tsv.gz", "sentence")
    dev = read_sst2(args.data / "dev.tsv", "content")
    rng = np.random.default_rng(0)
    count, labelled = int(recorded["pretrain_texts"]), int(recorded["labelled"])
    unlabelled = [train.texts[i] for i in rng.permutation(len(train.texts))[:count]]
    rows = [r for r in payload["rows"] if r["model"] != "bert_random_init"]
    with tempfile.TemporaryDirectory() as tmp:
        preset = random_init_preset(unlabelled, Path(tmp) / "random")
        for seed in [int(s) for s in recorded["seeds"].split(",")]:
            chosen = np.random.default_rng(seed).permutation(len(train.texts))[:labelled]
            subset = TextData(
                [train.texts[i] for i in chosen], [train.labels[i] for i in chosen], CLASSES
            )
            began = time.perf_counter()
            task = nlp.TextClassifier(classes=CLASSES, seed=seed, preset=preset, **FINE_TUNE)
            task.fit(subset, epochs=int(recorded["fine_tune_epochs"]), verbose=0)
            config = {**task.config.to_dict(), "preset": "random-init BERT (temporary folder)"}
            row = {
                "model": "bert_random_init",
                "seed": seed,
                "labelled_sentences": len(subset.texts),
                **score(task, dev),
                "fine_tune_seconds": round(time.perf_counter() - began, 1),
                "config": config,
                "load_average": load_average(),
            }
            print(row["model"], seed, row["accuracy"], flush=True)
            rows.append(row)
    accuracies = [r["accuracy_export_raw_text"] for r in rows if r["model"] == "bert_random_init"]
    payload["rows"] = rows
    payload["summary"]["bert_random_init"] = {
        "mean": float(np.mean(accuracies)),
        "std": float(np.std(accuracies)),
    }
    payload["pretrained_minus_random_init_bert_accuracy"] = payload["summary"]["mlm_pretrained"][
        "mean"
    ] - float(np.mean(accuracies))
    for name, stats in payload["summary"].items():
        print(f"{name:<18} {stats['mean']:>8.4f} {stats['std']:>8.4f}")
    write_json(args.output, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

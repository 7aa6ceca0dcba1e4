"""Deep belief network on scikit-learn's digits (8x8, stratified 80/20 split, seed 0).

Compared, each with several seeds and with all or a fraction of the training labels:

- ``dbn``: ``vision.DBNClassifier`` (greedy CD-1 RBM pretraining of 256-128 sigmoid layers on
  every training image, labels unused, then fine-tuning with the labelled ones);
- ``mlp``: the same network and fine-tuning without pretraining (``pretrain_epochs=0``);
- ``sklearn_rbm_logreg``: scikit-learn's ``BernoulliRBM`` + ``LogisticRegression`` pipeline with
  the hyper-parameters of scikit-learn's own digits example (100 components, learning rate
  0.06, 10 iterations, C=6000); its RBM also sees every training image;
- ``sklearn_logreg``: logistic regression on the raw pixels (C=100, the example's baseline).

Hyper-parameters are fixed in advance (none were tuned on the validation split). Accuracy of
the DBN and MLP is that of the exported SavedModel fed PNG bytes; ``task.evaluate`` agrees.

    python -m bench.vision_dbn --seeds 0,1,2 --label-fractions 1.0,0.1
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import Pipeline

import vision
from bench._harness import RESULTS_DIR, bench_parser, load_average, write_json, write_rows
from common.data import train_val_split
from vision.images import encode_png

RESULTS_PATH = RESULTS_DIR / "vision_dbn.json"
DBN = dict(hidden_units=[256, 128], pretrain_epochs=10, learning_rate=1e-2, batch_size=32)
FINE_TUNE_EPOCHS = 30


def labelled_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a stratified ``fraction`` of the training examples."""
    if fraction >= 1.0:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        keep += list(rng.choice(where, max(1, round(fraction * len(where))), replace=False))
    return np.sort(np.array(keep))


def export_accuracy(task: Any, images: np.ndarray, labels: np.ndarray) -> float:
    payload = [encode_png(image) for image in images]
    with tempfile.TemporaryDirectory() as folder:
        version = task.export(Path(folder) / "m")
        serve = tf.saved_model.load(str(version)).signatures["serving_default"]
        out = serve(image_bytes=tf.constant(payload))
    predicted = np.array([int(c.decode()) for c in out["classes"][:, 0].numpy()])
    return float(np.mean(predicted == labels))


def run_task(model: str, train, val, keep: np.ndarray, seed: int, classes) -> dict[str, Any]:
    options = {**DBN, "pretrain_epochs": 0} if model == "mlp" else DBN
    task = vision.DBNClassifier(classes=classes, seed=seed, **options)
    started = time.perf_counter()
    if model == "dbn":
        task.pretrain(train)  # every training image, labels unused
    task.fit((train[0][keep], train[1][keep]), epochs=FINE_TUNE_EPOCHS, verbose=0)
    row = {
        "accuracy": export_accuracy(task, *val),
        "evaluate_accuracy": task.evaluate(val)["accuracy"],
        "train_s": round(time.perf_counter() - started, 1),
        "config": task.config.to_dict(),
    }
    if task.pretraining:
        row["reconstruction_error"] = [[h[0], h[-1]] for h in task.pretraining]
    return row


def run_sklearn(model: str, train, val, keep: np.ndarray, seed: int) -> dict[str, Any]:
    x_train = train[0].reshape(len(train[0]), -1) / 255.0
    x_val = val[0].reshape(len(val[0]), -1) / 255.0
    started = time.perf_counter()
    if model == "sklearn_logreg":
        classifier = LogisticRegression(C=100.0, max_iter=5000).fit(x_train[keep], train[1][keep])
        accuracy = classifier.score(x_val, val[1])
    else:
        rbm = BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10, random_state=seed)
        rbm.fit(x_train)  # every training image, as the DBN's pretraining
        pipeline = Pipeline(
            [("rbm", rbm), ("logistic", LogisticRegression(C=6000.0, max_iter=5000))]
        )
        pipeline.named_steps["logistic"].fit(rbm.transform(x_train[keep]), train[1][keep])
        accuracy = pipeline.score(x_val, val[1])
    return {"accuracy": float(accuracy), "train_s": round(time.perf_counter() - started, 1)}


MODELS = ("dbn", "mlp", "sklearn_rbm_logreg", "sklearn_logreg")


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--label-fractions", default="1.0,0.1")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    digits = vision.load_digits()
    train, val = train_val_split(digits.images, digits.labels, val_fraction=0.2, seed=0)
    rows, summary = [], []
    for fraction in (float(f) for f in args.label_fractions.split(",")):
        for model in MODELS:
            scores = []
            for seed in (int(s) for s in args.seeds.split(",")):
                keep = labelled_subset(train[1], fraction, seed)
                if model.startswith("sklearn"):
                    row = run_sklearn(model, train, val, keep, seed)
                else:
                    row = run_task(model, train, val, keep, seed, digits.class_names)
                row = {"model": model, "label_fraction": fraction, "labelled": len(keep),
                       "seed": seed, **row, "load_average": load_average()}  # fmt: skip
                print({k: v for k, v in row.items() if k != "config"}, flush=True)
                rows.append(row)
                write_json(args.output, {"benchmark": "vision_dbn", "partial": True, "rows": rows})
                scores.append(row["accuracy"])
            summary.append((fraction, model, statistics.mean(scores), statistics.pstdev(scores)))
    print(f"\n{'labels':>6} {'model':20} {'accuracy (mean ± sd over seeds)':>32}")
    for fraction, model, mean, sd in summary:
        print(f"{fraction:6.0%} {model:20} {mean:24.4f} ± {sd:.4f}")
    payload = write_rows(args.output, "vision_dbn", {}, rows)
    payload["summary"] = [
        {"label_fraction": f, "model": m, "accuracy_mean": a, "accuracy_sd": s}
        for f, m, a, s in summary
    ]
    write_json(args.output, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

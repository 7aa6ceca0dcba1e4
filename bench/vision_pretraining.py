"""Self-supervised pretraining benchmark: Fashion-MNIST with 10 % of the labels.

``vision.pretrain_contrastive`` (SimCLR) learns a backbone from the 3,000 training images without
their labels; ``ImageClassifier(backbone=...)`` then fine-tunes it on a 10 % labelled subset (300
images, a different random subset per seed). The baseline is the same classifier (same small
ResNet, same fine-tuning options and epochs) from random initialisation. Scored on the 615
validation images (3000-3614, never trained on or tuned on) by the exported SavedModel on PNG
bytes (``accuracy_export_png``) beside the Python path. One pretraining run (seed 0) is shared by
the fine-tuning seeds, since pretraining is the expensive part on the shared CPU.

    python -m bench.vision_pretraining [--data ../shared/data] [--seeds 0,1] [--pretrain-epochs 12]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import vision
from bench._harness import (
    DATA_ROOT,
    RESULTS_DIR,
    bench_parser,
    load_average,
    write_json,
    write_rows,
)
from vision.data import load_idx
from vision.images import encode_png

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
TARGETS = {"pretrained_minus_scratch_accuracy": 0.0}
IMAGE_SIZE = 28
WIDTHS = (16, 32, 64)
#: Fine-tuning options shared by both rows (only the backbone's starting weights differ).
FINE_TUNE: dict[str, Any] = dict(widths=list(WIDTHS), batch_size=32, learning_rate=1e-3)


def load_fashion(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images 0-2999 train, 3000-3614 validation (the data README's split)."""
    folder = root / "fashion_mnist"
    if not folder.is_dir():
        raise SystemExit(f"Fashion-MNIST folder not found: {folder} (pass --data)")
    images, labels = load_idx(
        folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    )
    return images[:3000], labels[:3000], images[3000:3615], labels[3000:3615]


def labelled_subset(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a random ``fraction`` of the training images (the labels a user has)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(len(labels))[: round(fraction * len(labels))])


def score(task: vision.ImageClassifier, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Python-path accuracy and the export's accuracy on PNG bytes of the same images."""
    python = float(task.evaluate((images, labels))["accuracy"])
    with tempfile.TemporaryDirectory() as tmp:
        version = task.export(Path(tmp) / "model")
        serve = tf.saved_model.load(str(version)).signatures["serving_default"]
        png = tf.constant([encode_png(np.repeat(i, 3, -1)) for i in images])
        probabilities = serve(image_bytes=png)["probabilities"].numpy()
    exported = float(np.mean(np.argmax(probabilities, -1) == labels))
    return {"accuracy": python, "accuracy_export_png": exported}


def fine_tune(
    backbone: Any, train: tuple[np.ndarray, np.ndarray], epochs: int, seed: int
) -> vision.ImageClassifier:
    options = dict(classes=FASHION_CLASSES, image_size=IMAGE_SIZE, seed=seed, **FINE_TUNE)
    if backbone is not None:
        options["backbone"] = backbone
    task = vision.ImageClassifier(**options)
    task.fit(train, epochs=epochs, verbose=0)
    return task


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", type=Path, default=DATA_ROOT, help="the shared data folder")
    parser.add_argument("--seeds", default="0,1", help="label-subset / fine-tuning seeds")
    parser.add_argument("--label-fraction", type=float, default=0.1)
    parser.add_argument("--pretrain-epochs", type=int, default=12)
    parser.add_argument("--fine-tune-epochs", type=int, default=20)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "vision_pretraining.json")
    args = parser.parse_args(argv)
    x_train, y_train, x_val, y_val = load_fashion(args.data)
    start = time.perf_counter()
    pretrain_options = dict(
        image_size=IMAGE_SIZE, widths=WIDTHS, epochs=args.pretrain_epochs, batch_size=256, seed=0
    )
    backbone = vision.pretrain_contrastive(x_train, verbose=2, **pretrain_options)
    pretrain_seconds = time.perf_counter() - start
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        subset = labelled_subset(y_train, args.label_fraction, seed)
        train = (x_train[subset], y_train[subset])
        for name, start_from in (("scratch", None), ("simclr_pretrained", backbone)):
            began = time.perf_counter()
            task = fine_tune(start_from, train, args.fine_tune_epochs, seed)
            row = {
                "model": name,
                "seed": seed,
                "labelled_images": int(len(subset)),
                **score(task, x_val, y_val),
                "fine_tune_seconds": round(time.perf_counter() - began, 1),
                "config": task.config.to_dict(),
                "load_average": load_average(),
            }
            print(row["model"], seed, row["accuracy"], row["accuracy_export_png"], flush=True)
            rows.append(row)
    summary = {}
    for name in ("scratch", "simclr_pretrained"):
        accuracies = [r["accuracy_export_png"] for r in rows if r["model"] == name]
        summary[name] = {"mean": float(np.mean(accuracies)), "std": float(np.std(accuracies))}
    gain = summary["simclr_pretrained"]["mean"] - summary["scratch"]["mean"]
    print(f"{'model':<20} {'export acc mean':>16} {'std':>8}")
    for name, stats in summary.items():
        print(f"{name:<20} {stats['mean']:>16.4f} {stats['std']:>8.4f}")
    print(f"gain (pretrained - scratch): {gain:+.4f}")
    payload = write_rows(args.output, "vision_pretraining", TARGETS, rows)
    payload.update(
        summary=summary,
        pretrained_minus_scratch_accuracy=gain,
        pretraining={**pretrain_options, "seconds": round(pretrain_seconds, 1), "images": 3000},
        args={k: str(v) for k, v in vars(args).items()},
        seconds=round(time.perf_counter() - start, 1),
    )
    write_json(args.output, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

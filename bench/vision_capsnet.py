"""Capsule network vs the default small ResNet: ``ImageClassifier(backbone="capsnet")`` against
``ImageClassifier()`` with the same epochs, batch size and augmentation on scikit-learn's digits
(stratified 80/20 split, seed 0, 16x16) and the Fashion-MNIST subset in
``<data-root>/fashion_mnist`` (train images 0-2999, validate 3000-3614, 28x28).

Quality is measured on the exported SavedModel fed PNG bytes of the validation images (what a
served model answers), with ``task.evaluate`` beside it; training wall-clock time is recorded.

    python -m bench.vision_capsnet --datasets digits,fashion --data-root ../shared/data
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import vision
from bench._harness import DATA_ROOT, RESULTS_DIR, bench_parser, load_average, write_rows
from common.data import train_val_split
from vision.data import load_idx
from vision.images import encode_png

RESULTS_PATH = RESULTS_DIR / "vision_capsnet.json"
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
#: Shared by both backbones of a dataset (the vision_classification settings of that dataset).
SETTINGS: dict[str, dict[str, Any]] = {
    "digits": dict(image_size=16, flip=None, rotation=0.05, zoom=0.1, translation=0.1,
                   contrast=0.0, learning_rate=3e-3, batch_size=32),
    "fashion": dict(image_size=28, flip="horizontal", rotation=0.0, zoom=0.1, translation=0.08,
                    contrast=0.0, learning_rate=4e-3, batch_size=64),
}  # fmt: skip
BACKBONES = ("small_resnet", "capsnet")


def load_split(name: str, root: Path) -> tuple[list[str], Any, Any]:
    """Class names, train and validation (images, labels) of one dataset."""
    if name == "digits":
        digits = vision.load_digits()
        train, val = train_val_split(digits.images, digits.labels, val_fraction=0.2, seed=0)
        return digits.class_names, train, val
    folder = root / "fashion_mnist"
    if not folder.is_dir():
        raise SystemExit(f"Fashion-MNIST folder not found: {folder} (pass --data-root)")
    images, labels = load_idx(
        folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    )
    return FASHION_CLASSES, (images[:3000], labels[:3000]), (images[3000:3615], labels[3000:3615])


def export_accuracy(task: Any, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of the exported SavedModel on PNG bytes of ``images``."""
    payload = [encode_png(image) for image in images]
    with tempfile.TemporaryDirectory() as folder:
        serve = tf.saved_model.load(str(task.export(Path(folder) / "m"))).signatures[
            "serving_default"
        ]
        predicted = []
        for start in range(0, len(payload), 128):
            out = serve(image_bytes=tf.constant(payload[start : start + 128]))
            predicted += [c.decode() for c in out["classes"][:, 0].numpy()]
    return float(np.mean(np.array(predicted) == np.array([task.classes[i] for i in labels])))


def run(name: str, backbone: str, root: Path, epochs: int, seed: int) -> dict[str, Any]:
    classes, train, val = load_split(name, root)
    task = vision.ImageClassifier(classes=classes, backbone=backbone, seed=seed, **SETTINGS[name])
    started = time.perf_counter()
    task.fit(train, epochs=epochs, verbose=2)
    train_s = time.perf_counter() - started
    report = task.evaluate(val)
    return {
        "dataset": name,
        "backbone": backbone,
        "seed": seed,
        "epochs": epochs,
        "parameters": int(task.model.count_params()),
        "export_png_accuracy": export_accuracy(task, *val),
        "evaluate_accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "train_s": round(train_s, 1),
        "load_average": load_average(),
        "config": task.config.to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--datasets", default="digits,fashion")
    parser.add_argument("--data-root", type=Path, default=DATA_ROOT)
    parser.add_argument("--epochs", type=int, default=12, help="epochs of every training")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)
    rows = []
    for name in args.datasets.split(","):
        for backbone in BACKBONES:
            print(f"== {name} / {backbone}", flush=True)
            rows.append(run(name, backbone, args.data_root, args.epochs, args.seed))
            print({k: v for k, v in rows[-1].items() if k != "config"}, flush=True)
    print(f"\n{'dataset':8} {'backbone':13} {'export acc':>10} {'eval acc':>8} "
          f"{'macro F1':>8} {'params':>9} {'train s':>8}")  # fmt: skip
    for r in rows:
        print(
            f"{r['dataset']:8} {r['backbone']:13} {r['export_png_accuracy']:10.4f} "
            f"{r['evaluate_accuracy']:8.4f} {r['macro_f1']:8.4f} {r['parameters']:9d} "
            f"{r['train_s']:8.1f}"
        )
    write_rows(args.output, "vision_capsnet", {}, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

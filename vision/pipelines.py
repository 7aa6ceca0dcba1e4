"""Vision example pipelines, readable top to bottom: data -> model -> train -> evaluate -> export.

Run one with ``python -m vision.pipelines classification [--quick]``; ``dlsuite demo`` runs the
quick versions and prints their results.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.data import train_val_split
from common.demo import DemoResult
from common.plots import plot_history
from vision.classification import ImageClassifier
from vision.data import load_digits
from vision.images import encode_png


def classification(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Handwritten digits (scikit-learn's real 8x8 scans) with a small ResNet."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "vision_classification"

    # 1. Data: 1,797 digits, fixed stratified 80/20 split.
    digits = load_digits()
    (x_train, y_train), (x_test, y_test) = train_val_split(digits.images, digits.labels, 0.2, seed=0)

    # 2. Model: a small residual network; no flips (a mirrored 2 is not a 2).
    classifier = ImageClassifier(
        classes=digits.class_names,
        image_size=32,
        widths=[16, 32, 64] if quick else [32, 64, 128],
        flip=None,
        contrast=0.0,
        batch_size=64,
    )

    # 3. Train, with the test split as validation data for the curves.
    started = time.perf_counter()
    history = classifier.fit(
        (x_train, y_train), validation_data=(x_test, y_test), epochs=8 if quick else 30, verbose=2
    )
    train_seconds = time.perf_counter() - started
    plot_history(history, reports_dir / "training_curves.png")

    # 4. Evaluate: accuracy, per-class precision/recall/F1, confusion matrix PNG.
    report = classifier.evaluate((x_test, y_test), report_dir=reports_dir)

    # 5. Export for TF Serving and check the export answers like the Python model.
    version_dir = classifier.export(models_dir / "digits")
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    sample = np.repeat(x_test[:8], 3, axis=-1)
    payload = [encode_png(image) for image in sample]
    served_classes = served(image_bytes=tf.constant(payload))["classes"].numpy()[:, 0]
    python_classes = [r["label"] for r in classifier.predict(payload)]
    agree = float(np.mean([s.decode() == p for s, p in zip(served_classes, python_classes, strict=True)]))

    return {
        "task": "vision/classification (digits)",
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "request": {"image_bytes": payload[:1]},
    }


def demo(models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> DemoResult:
    """What ``dlsuite demo`` runs for vision: the quick classification pipeline."""
    summary = classification(quick=True, models_dir=models_dir, reports_dir=reports_dir)
    request = summary.pop("request")
    return DemoResult(rows=[summary], requests={"digits": request})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline", choices=["classification"])
    parser.add_argument("--quick", action="store_true", help="small model, few epochs")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--reports-dir", default="reports")
    args = parser.parse_args(argv)
    result = classification(args.quick, args.models_dir, args.reports_dir)
    result.pop("request")
    for key, value in result.items():
        print(f"{key:>15}: {value}")


if __name__ == "__main__":
    main()

"""Vision example pipelines, readable top to bottom: data -> model -> train -> evaluate -> export.

Run one with ``python -m vision.pipelines classification|detection|segmentation [--quick]``;
``dlsuite demo`` runs the quick versions and prints their results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.data import train_val_split
from common.demo import DemoResult
from common.pipelines import export_and_load, pipelines_main, run_demo, timed_fit
from vision.classification import ImageClassifier
from vision.data import load_digits
from vision.detection import ObjectDetector
from vision.detection.data import make_shape_scenes
from vision.images import encode_png
from vision.segmentation import ImageSegmenter
from vision.segmentation.data import make_shape_masks


def classification(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Handwritten digits (scikit-learn's real 8x8 scans) with a small ResNet."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "vision_classification"

    # 1. Data: 1,797 digits, fixed stratified 80/20 split.
    digits = load_digits()
    (x_train, y_train), (x_test, y_test) = train_val_split(
        digits.images, digits.labels, 0.2, seed=0
    )

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
    train_seconds = timed_fit(
        classifier,
        reports_dir,
        (x_train, y_train),
        validation_data=(x_test, y_test),
        epochs=8 if quick else 30,
        verbose=2,
    )

    # 4. Evaluate: accuracy, per-class precision/recall/F1; report files + confusion matrix PNG.
    report = classifier.evaluate((x_test, y_test), report_dir=reports_dir, overwrite=True)

    # 5. Export for TF Serving and check the export answers like the Python model.
    version_dir, served = export_and_load(classifier, models_dir / "digits")
    sample = np.repeat(x_test[:8], 3, axis=-1)
    payload = [encode_png(image) for image in sample]
    served_classes = served(image_bytes=tf.constant(payload))["classes"].numpy()[:, 0]
    python_classes = [r["label"] for r in classifier.predict(payload)]
    agree = float(
        np.mean([s.decode() == p for s, p in zip(served_classes, python_classes, strict=True)])
    )

    return {
        "task": "vision/classification (digits)",
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "request": {"image_bytes": payload[:1]},
    }


def detection(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Synthetic shape scenes (several circles, squares, triangles each), FCOS-style detector."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "vision_detection"
    size = 96 if quick else 128

    # 1. Data: fixed-seed scenes with boxes; a separate seed for the test images.
    scenes = {"max_objects": 3, "min_size": 0.2, "max_size": 0.5}
    train = make_shape_scenes(200 if quick else 600, size, seed=1, **scenes)
    test = make_shape_scenes(40 if quick else 200, size, seed=2, **scenes)

    # 2. Model: small residual backbone + feature pyramid + shared head (focal + GIoU losses).
    detector = ObjectDetector(
        classes=train.class_names,
        image_size=size,
        widths=[16, 24, 32, 48, 64] if quick else [16, 32, 48, 64, 96],
        fpn_width=32 if quick else 48,
        head_convs=1 if quick else 2,
        learning_rate=1e-2 if quick else 5e-3,
        batch_size=16,
    )

    # 3. Train.
    train_seconds = timed_fit(detector, reports_dir, train, epochs=10 if quick else 40, verbose=2)

    # 4. Evaluate with pycocotools (COCO mAP); report files + test images with their detections.
    report = detector.evaluate(test, report_dir=reports_dir, overwrite=True)

    # 5. Export for TF Serving and check the export finds the same boxes as the Python model.
    version_dir, served = export_and_load(detector, models_dir / "shapes_detector")
    payload = [encode_png(image) for image in test.images[:4]]
    outputs = served(image_bytes=tf.constant(payload))
    agree = []
    for j, result in enumerate(detector.predict(payload, score_threshold=0.0)):
        n = int(outputs["num_detections"][j])
        boxes = outputs["detection_boxes"][j, :n].numpy() * size
        agree.append(
            n == len(result["boxes"]) and bool(np.allclose(boxes, result["boxes"], atol=1e-2))
        )

    return {
        "task": "vision/detection (shapes)",
        "mAP": report["mAP"],
        "mAP_50": report["mAP_50"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": float(np.mean(agree)),
        "request": {"image_bytes": payload[:1]},
    }


def segmentation(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Synthetic shapes masks (background, circle, square, triangle) with a DeepLabV3+ segmenter."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "vision_segmentation"
    size = 64 if quick else 128

    # 1. Data: fixed-seed scenes with per-pixel class masks.
    scenes = {"max_objects": 3, "min_size": 0.2, "max_size": 0.5}
    train = make_shape_masks(200 if quick else 600, size, seed=1, **scenes)
    test = make_shape_masks(30 if quick else 200, size, seed=2, **scenes)

    # 2. Model: strided encoder, atrous spatial pyramid pooling, light decoder.
    segmenter = ImageSegmenter(
        classes=train.class_names,
        image_size=size,
        architecture="deeplabv3plus",
        widths=[16, 24, 32] if quick else [16, 32, 48, 64],
        aspp_filters=32 if quick else 48,
        learning_rate=1e-2,
        batch_size=16,
    )

    # 3. Train, with the test scenes as validation data for the curves.
    train_seconds = timed_fit(
        segmenter, reports_dir, train, validation_data=test, epochs=8 if quick else 40, verbose=2
    )

    # 4. Evaluate (mean IoU, per-class IoU, Dice, pixel accuracy); report files + overlays.
    report = segmenter.evaluate(test, report_dir=reports_dir, overwrite=True)

    # 5. Export for TF Serving and check the served masks equal the Python model's.
    version_dir, served = export_and_load(segmenter, models_dir / "shapes_segmenter")
    payload = [encode_png(image) for image in test.images[:4]]
    masks = served(image_bytes=tf.constant(payload))["mask"].numpy()
    python_masks = np.stack([r["mask"] for r in segmenter.predict(payload)])

    return {
        "task": "vision/segmentation (shapes)",
        "mean_iou": report["mean_iou"],
        "pixel_accuracy": report["pixel_accuracy"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": float(np.mean(masks == python_masks)),
        "request": {"image_bytes": payload[:1]},
    }


def generation(
    quick: bool = False, models_dir: str | Path = "models", reports_dir: str | Path = "reports"
) -> dict[str, Any]:
    """Handwritten digits generated by a class-conditional VAE, with a grid of samples."""
    from vision.generation import ImageGenerator
    from vision.generation.sampling import image_grid, write_png

    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "vision_generation"

    # 1. Data: the 1,797 real 8x8 digits, upsampled to 16x16 by the generator.
    digits = load_digits()

    # 2. Model: a small conditional VAE (architecture="wgan_gp" or "ddim" for the others).
    generator = ImageGenerator(
        architecture="vae", classes=digits.class_names, image_size=16, widths=[16, 32],
        latent_dim=8, batch_size=64,
    )  # fmt: skip

    # 3. Train, writing a sample grid per epoch to the reports folder.
    train_seconds = timed_fit(
        generator, reports_dir, digits, epochs=10 if quick else 40, verbose=2,
        samples_dir=reports_dir / "samples",
    )  # fmt: skip

    # 4. A grid: one row per digit, and pixel-space FID / KID against the real digits.
    grid = np.concatenate([generator.generate(8, c, seed=1)["images"] for c in digits.class_names])
    write_png(image_grid(grid, 8), str(reports_dir / "generated_digits.png"))
    report = generator.evaluate(digits, kid_subset=500)

    # 5. Export for TF Serving; the served images equal generate's for the same seed.
    version_dir, served = export_and_load(generator, models_dir / "digits_generator")
    request = {"num_images": 4, "class_name": "7", "seed": 3}
    images = served(**{k: tf.constant(v) for k, v in request.items()})["images"].numpy()
    agree = float(np.allclose(images, generator.generate(4, "7", seed=3)["images"], atol=1e-5))

    return {
        "task": "vision/generation (digits VAE)",
        "fid_pixels": round(report["fid"], 2),
        "kid_pixels": round(report["kid"], 4),
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": agree,
        "request": {"num_images": 1, "class_name": "7", "seed": 0},
    }


def demo(models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> DemoResult:
    """What ``dlsuite demo`` runs for vision: quick classification, detection, segmentation."""
    pipelines = {
        "digits": classification,
        "shapes_detector": detection,
        "shapes_segmenter": segmentation,
        "digits_generator": generation,
    }
    return run_demo(pipelines, models_dir, reports_dir)


PIPELINES = {
    "classification": classification,
    "detection": detection,
    "segmentation": segmentation,
    "generation": generation,
}


def main(argv: list[str] | None = None) -> None:
    """``python -m vision.pipelines NAME [--quick]``."""
    pipelines_main(PIPELINES, __doc__, argv)


if __name__ == "__main__":
    main()

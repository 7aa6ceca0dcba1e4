"""Health example pipelines, readable top to bottom: phantoms written as real DICOM / NIfTI ->
read back -> train -> clinical evaluation -> explain -> export (checked against ``predict``).

Run one with ``python -m health.pipelines segmentation|classification [--quick]``;
``dlsuite demo`` runs the quick versions (exports ``models/health_segmentation/`` and
``models/health_classification/``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from common.demo import DemoResult
from common.pipelines import Pipeline, export_and_load, pipelines_main, run_demo, timed_fit
from health import io as hio
from health.anomaly.pipeline import anomaly
from health.classification import MedicalImageClassifier
from health.data import load_case_folder
from health.gradcam import explain
from health.molecules.pipeline import molecules
from health.phantoms import make_phantoms, write_phantom_cases
from health.segmentation import MedicalSegmenter


def _overlay_png(image_hu: np.ndarray, mask: np.ndarray, path: Path) -> Path:
    """Abdomen-windowed slice with organ (green) and lesion (red) tinted."""
    from PIL import Image

    grey = hio.apply_window(image_hu, "abdomen")
    rgb = np.repeat(grey[..., None], 3, -1)
    for label, colour in ((1, (0.0, 1.0, 0.0)), (2, (1.0, 0.0, 0.0))):
        rgb[mask == label] = 0.6 * rgb[mask == label] + 0.4 * np.array(colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((rgb * 255).astype(np.uint8)).save(path)
    return path


def segmentation(
    quick: bool = False,
    models_dir: str | Path = "models",
    reports_dir: str | Path = "reports",
    epochs: int | None = None,
    train_cases: int | None = None,
) -> dict[str, Any]:
    """Organ and lesion segmentation on CT phantom slices, through the DICOM / NIfTI path
    (``epochs`` and ``train_cases`` override the quick / full sizes, e.g. for a smoke test)."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "health_segmentation"

    # 1. Data: phantom slices written as real DICOM + NIfTI cases, then read back from disk.
    with tempfile.TemporaryDirectory() as tmp:
        n_train = train_cases or (48 if quick else 200)
        write_phantom_cases(
            make_phantoms(n_train, (64, 64), seed=0, lesion_fraction=0.7), Path(tmp) / "train"
        )
        write_phantom_cases(
            make_phantoms(12 if quick else 50, (64, 64), seed=1, lesion_fraction=0.7),
            Path(tmp) / "test",
        )
        train, test = load_case_folder(Path(tmp) / "train"), load_case_folder(Path(tmp) / "test")

    # 2. Model: a 2-D U-Net on abdomen-windowed HU, Dice + cross-entropy, foreground-rich patches.
    segmenter = MedicalSegmenter(
        classes=["background", "organ", "lesion"],
        patch_size=[32, 32] if quick else [64, 64],
        widths=[8, 16, 32] if quick else [16, 32, 64],
        window="abdomen",
        patches_per_epoch=192 if quick else 512,
        batch_size=16,
        learning_rate=5e-3,
    )

    # 3. Train.
    train_seconds = timed_fit(
        segmenter, reports_dir, train, epochs=epochs or (8 if quick else 20), verbose=2
    )

    # 4. Evaluate: Dice / IoU per structure and HD95 in mm (sliding-window inference).
    report = segmenter.evaluate(test)
    prediction = segmenter.predict(test.images[0])["mask"]
    _overlay_png(test.images[0], prediction, reports_dir / "prediction.png")

    # 5. Export for TF Serving (float32 HU slices in, mask out) and check it against predict.
    version_dir, served = export_and_load(segmenter, models_dir / "health_segmentation")
    slices = np.stack(test.images[:4])
    served_masks = served(image=tf.constant(slices))["mask"].numpy()
    python_masks = np.stack([r["mask"] for r in segmenter.predict(list(slices), mode="whole")])
    return {
        "task": "health/segmentation (CT phantoms)",
        "mean_dice": report["mean_dice"],
        "organ_dice": report["per_class"]["organ"]["dice"],
        "lesion_dice": report["per_class"]["lesion"]["dice"],
        "mean_hd95_mm": report["mean_hd95_mm"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": float((served_masks == python_masks).mean()),
        "request": {"image": [slices[0].tolist()]},
    }


def classification(
    quick: bool = False,
    models_dir: str | Path = "models",
    reports_dir: str | Path = "reports",
    epochs: int | None = None,
    train_cases: int | None = None,
) -> dict[str, Any]:
    """Lesion / no lesion on CT phantom slices: AUC, operating point, calibration, Grad-CAM
    (``epochs`` and ``train_cases`` override the quick / full sizes)."""
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "health_classification"

    # 1. Data: half the phantoms carry a lesion (35-80 HU contrast, 2-8 mm).
    train = make_phantoms(
        train_cases or (160 if quick else 400), (48, 48) if quick else (64, 64), seed=2
    )
    test = make_phantoms(60 if quick else 200, (48, 48) if quick else (64, 64), seed=3)

    # 2. Model: a small ResNet on abdomen-windowed HU with balanced class weights.
    classifier = MedicalImageClassifier(
        classes=["normal", "lesion"],
        image_size=48 if quick else 64,
        widths=[16, 32, 32] if quick else [16, 32, 64],
        window="abdomen",
        batch_size=32,
    )

    # 3. Train.
    epochs = epochs or (8 if quick else 20)
    train_seconds = timed_fit(
        classifier, reports_dir, train, validation_data=test, epochs=epochs, verbose=2
    )

    # 4. Evaluate: ROC-AUC, PR-AUC, sensitivity / specificity, ECE; report files, ROC curve and
    # reliability plot.
    report = classifier.evaluate(test, report_dir=reports_dir, overwrite=True)

    # 5. Explain: Grad-CAM overlay for the first lesion case.
    case = int(np.flatnonzero(test.labels)[0])
    explain(classifier, test.images[case], path=reports_dir / "grad_cam.png", class_index="lesion")

    # 6. Export and check the served probabilities against predict.
    version_dir, served = export_and_load(classifier, models_dir / "health_classification")
    served_p = served(image=tf.constant(test.images[:8]))["probabilities"].numpy()[:, 1]
    python_p = np.array([r["scores"]["lesion"] for r in classifier.predict(list(test.images[:8]))])
    return {
        "task": "health/classification (CT phantom lesions)",
        "roc_auc": report["roc_auc"],
        "sensitivity": report["sensitivity"],
        "specificity": report["specificity"],
        "ece": report["ece"],
        "train_s": round(train_seconds, 1),
        "export": str(version_dir),
        "export_agrees": float(np.mean(np.abs(served_p - python_p) < 1e-4)),
        "request": {"image": [test.images[0].tolist()]},
    }


def demo(models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> DemoResult:
    """What ``dlsuite demo`` runs for health: every quick pipeline in ``PIPELINES``."""
    pipelines = {f"health_{name}": pipeline for name, pipeline in PIPELINES.items()}
    return run_demo(pipelines, models_dir, reports_dir)


#: The quick pipelines; molecules (SMILES -> D-MPNN) and anomaly (series -> autoencoder) live
#: beside their tasks in health/molecules/pipeline.py and health/anomaly/pipeline.py.
PIPELINES: dict[str, Pipeline] = {
    "segmentation": segmentation,
    "classification": classification,
    "molecules": molecules,
    "anomaly": anomaly,
}


def main(argv: list[str] | None = None) -> None:
    """``python -m health.pipelines NAME [--quick]``."""
    pipelines_main(PIPELINES, __doc__, argv)


if __name__ == "__main__":
    main()

"""Medical-imaging benchmark: phantoms (2-D / 3-D segmentation Dice and HD95, lesion AUC), real
retinal-vessel segmentation on DRIVE (k-fold cross-validation, Dice and pixel ROC-AUC inside the
field of view), the real CT / MR slices pydicom ships (I/O and windowing), and speed as same-run
ratios (whole-image vs sliding-window inference, SavedModel vs Keras).

    python -m bench.health_imaging --drive ../shared/data/drive [--quick] [--sections seg3d,drive --update]

Timings are wall-clock on whatever machine runs it (shared CPUs: see the JSON's ``machine``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from health import io as hio  # noqa: E402
from health.phantoms import make_phantoms  # noqa: E402

DEFAULT_DRIVE = REPO_ROOT.parent / "shared" / "data" / "drive"
RESULTS = REPO_ROOT / "bench" / "results"
SECTIONS = ("dicom", "seg2d", "seg3d", "classify", "drive")


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


# --------------------------------------------------------------------------- pydicom files
def bench_dicom_files() -> dict[str, Any]:
    """Read pydicom's real CT and MR slices; check HU rescale by hand; window coverage."""
    import pydicom
    from pydicom.data import get_testdata_file

    rows = {}
    for name in ("CT_small.dcm", "MR_small.dcm"):
        path = get_testdata_file(name)
        volume, seconds = timed(hio.read, path)
        raw = pydicom.dcmread(path)
        hand = raw.pixel_array * float(raw.get("RescaleSlope", 1)) + float(raw.get("RescaleIntercept", 0))
        row = {
            "modality": volume.modality, "shape": list(volume.shape), "spacing_mm": list(volume.spacing),
            "min": float(volume.array.min()), "max": float(volume.array.max()),
            "rescale_matches_hand": bool(np.array_equal(volume.array, hand.astype(np.float32))),
            "read_ms": round(seconds * 1000, 2),
        }
        if volume.modality == "CT":
            for preset in ("lung", "mediastinum", "bone", "abdomen", "brain"):
                windowed = hio.apply_window(volume.array, preset)
                row[f"{preset}_inside_window"] = float(((windowed > 0) & (windowed < 1)).mean())
        rows[name] = row
    return rows


# --------------------------------------------------------------------------- phantoms
def bench_phantom_segmentation_2d(quick: bool) -> dict[str, Any]:
    from health.segmentation import MedicalSegmenter

    train = make_phantoms(64 if quick else 160, (64, 64), seed=0, lesion_fraction=0.7)
    test = make_phantoms(40, (64, 64), seed=100, lesion_fraction=0.7)
    seg = MedicalSegmenter(classes=train.class_names, patch_size=[64, 64], widths=[16, 32, 64],
                           patches_per_epoch=256, batch_size=16, learning_rate=5e-3)
    _, train_s = timed(seg.fit, train, epochs=4 if quick else 12, verbose=0)
    report = seg.evaluate(test)
    # speed: whole-image vs sliding-window (48-px windows, overlap 0.5) vs exported SavedModel
    images = test.images[:32]
    seg.predict_probabilities(images[0], mode="whole")
    _, whole_s = timed(lambda: [seg.predict_probabilities(x, mode="whole") for x in images])
    seg.config.patch_size = [32, 32]
    _, window_s = timed(lambda: [seg.predict_probabilities(x, mode="sliding_window") for x in images])
    seg.config.patch_size = [64, 64]
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        served = tf.saved_model.load(str(seg.export(Path(tmp) / "seg"))).signatures["serving_default"]
        batch = tf.constant(images)
        served(image=batch)
        _, served_s = timed(lambda: served(image=batch)["mask"].numpy())
        _, keras_s = timed(lambda: seg._pad_and_predict(batch).numpy())
    return {
        "train_images": len(train), "test_images": len(test), "train_s": round(train_s, 1),
        "mean_dice": report["mean_dice"], "mean_hd95_mm": report["mean_hd95_mm"],
        "per_class": report["per_class"],
        "slices_per_s_whole": round(len(images) / whole_s, 1),
        "sliding_window_32px_over_whole_time": round(window_s / whole_s, 2),
        "savedmodel_batch_over_keras_batch_time": round(served_s / keras_s, 2),
    }


def bench_phantom_segmentation_3d(quick: bool) -> dict[str, Any]:
    from health.segmentation import MedicalSegmenter

    train3 = make_phantoms(12 if quick else 32, (16, 48, 48), seed=1, lesion_fraction=0.7)
    test3 = make_phantoms(8, (16, 48, 48), seed=101, lesion_fraction=0.7)
    seg3 = MedicalSegmenter(classes=train3.class_names, patch_size=[16, 32, 32], widths=[8, 16, 32],
                            patches_per_epoch=64 if quick else 128, batch_size=4, learning_rate=5e-3,
                            foreground_fraction=0.5)
    _, train3_s = timed(seg3.fit, train3, epochs=3 if quick else 60, verbose=0)
    report3 = seg3.evaluate(test3)
    big = make_phantoms(1, (32, 96, 96), seed=7).images[0]
    _, volume_s = timed(seg3.predict_probabilities, big, mode="sliding_window")
    _, whole3_s = timed(seg3.predict_probabilities, big, mode="whole")
    return {
        "train_volumes": len(train3), "test_volumes": len(test3), "train_s": round(train3_s, 1),
        "mean_dice": report3["mean_dice"], "mean_hd95_mm": report3["mean_hd95_mm"],
        "per_class": report3["per_class"],
        "volume_32x96x96_sliding_window_s": round(volume_s, 2),
        "sliding_window_over_whole_time": round(volume_s / whole3_s, 2),
    }


def bench_phantom_classification(quick: bool) -> dict[str, Any]:
    from health.classification import MedicalImageClassifier

    train = make_phantoms(160 if quick else 400, (64, 64), seed=2)
    test = make_phantoms(200, (64, 64), seed=102)
    clf = MedicalImageClassifier(classes=["normal", "lesion"], image_size=64, widths=[16, 32, 64], batch_size=32)
    _, train_s = timed(clf.fit, train, validation_data=test, epochs=6 if quick else 20, verbose=0)
    report = clf.evaluate(test)
    return {"train_images": len(train), "test_images": len(test), "train_s": round(train_s, 1),
            **{k: report[k] for k in ("roc_auc", "pr_auc", "sensitivity", "specificity", "ece")}}


# --------------------------------------------------------------------------- DRIVE
def load_drive(root: Path) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Green channel (float 0-255), vessel masks (0/1), field-of-view masks (bool) of the 20
    training images."""
    from PIL import Image

    folder = root / "training"
    if not (folder / "images").is_dir():
        raise SystemExit(f"DRIVE not found under {root} (expected training/images, 1st_manual, mask)")
    images, vessels, fovs = [], [], []
    for i in range(21, 41):
        with Image.open(folder / "images" / f"{i}_training.tif") as im:
            images.append(np.asarray(im.convert("RGB"), np.float32)[..., 1])
        with Image.open(folder / "1st_manual" / f"{i}_manual1.gif") as im:
            vessels.append((np.asarray(im.convert("L")) > 127).astype(np.int32))
        with Image.open(folder / "mask" / f"{i}_training_mask.gif") as im:
            fovs.append(np.asarray(im.convert("L")) > 127)
    return images, vessels, fovs


def bench_drive(root: Path, folds: int, epochs: int, patches: int, run_folds: int | None = None) -> dict[str, Any]:
    """k-fold CV over the 20 training images; per-image z-score inside the FOV (documented
    preprocessing), 64-px patches with half of them centred on vessels, Dice + CE."""
    from sklearn.metrics import roc_auc_score

    from health.segmentation import MedicalSegmenter

    images, vessels, fovs = load_drive(root)
    images = [np.where(f, hio.normalize(x, "zscore", mask=f), 0.0).astype(np.float32)
              for x, f in zip(images, fovs, strict=True)]
    order = np.arange(len(images))
    results = []
    if folds < 2:
        raise SystemExit("--folds must be at least 2")
    for fold in range(min(folds, run_folds or folds)):
        test_idx = order[fold::folds]
        train_idx = np.setdiff1d(order, test_idx)
        seg = MedicalSegmenter(classes=["background", "vessel"], patch_size=[64, 64], widths=[16, 32, 64, 128],
                               window=None, scale=1.0, foreground_fraction=0.5, patches_per_epoch=patches,
                               batch_size=16, learning_rate=3e-3, seed=fold)
        data = ([images[i] for i in train_idx], [vessels[i] for i in train_idx], (1.0, 1.0))
        _, train_s = timed(seg.fit, data, epochs=epochs, verbose=0)
        dices, aucs, predict_s = [], [], 0.0
        for i in test_idx:
            probabilities, seconds = timed(seg.predict_probabilities, images[i], mode="whole")
            predict_s += seconds
            vessel_p, truth, fov = probabilities[..., 1][fovs[i]], vessels[i][fovs[i]], fovs[i]
            predicted = vessel_p >= 0.5
            dices.append(2 * np.sum(predicted & (truth == 1)) / max(predicted.sum() + truth.sum(), 1))
            aucs.append(roc_auc_score(truth, vessel_p))
            del fov
        results.append({"fold": fold, "test_images": [int(21 + i) for i in test_idx], "train_s": round(train_s, 1),
                        "dice": float(np.mean(dices)), "roc_auc": float(np.mean(aucs)),
                        "predict_s_per_image": round(predict_s / len(test_idx), 2)})
        print(f"  DRIVE fold {fold}: Dice {results[-1]['dice']:.4f} ROC-AUC {results[-1]['roc_auc']:.4f} "
              f"train {train_s:.0f} s", flush=True)
    return {
        "folds": results, "epochs": epochs, "patches_per_epoch": patches,
        "dice": float(np.mean([r["dice"] for r in results])),
        "roc_auc": float(np.mean([r["roc_auc"] for r in results])),
        "train_s_per_fold": round(float(np.mean([r["train_s"] for r in results])), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drive", default=str(DEFAULT_DRIVE), help="DRIVE folder (holds training/)")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--run-folds", type=int, help="run only the first N folds (budget)")
    parser.add_argument("--drive-epochs", type=int, default=16)
    parser.add_argument("--drive-patches", type=int, default=512, help="training patches per epoch")
    parser.add_argument("--quick", action="store_true", help="small phantom runs (minutes)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--update", action="store_true",
                        help="keep the other sections of an existing JSON (re-run only --sections)")
    parser.add_argument("--output", default=None, help="JSON path (default bench/results/health_imaging[.quick].json)")
    args = parser.parse_args(argv)

    sections = [x for x in args.sections.split(",") if x]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    output = Path(args.output) if args.output else RESULTS / ("health_imaging.quick.json" if args.quick else "health_imaging.json")
    results: dict[str, Any] = json.loads(output.read_text()) if args.update and output.exists() else {}
    results["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "note": "shared, loaded CPU machine; timings are indicative, ratios are same-run"}
    results.setdefault("phantom_segmentation", {})
    seconds = results.setdefault("section_seconds", {})
    for section in sections:
        started = time.perf_counter()
        if section == "dicom":
            results["dicom_files"] = bench_dicom_files()
        elif section == "seg2d":
            results["phantom_segmentation"]["2d"] = bench_phantom_segmentation_2d(args.quick)
        elif section == "seg3d":
            results["phantom_segmentation"]["3d"] = bench_phantom_segmentation_3d(args.quick)
        elif section == "classify":
            results["phantom_classification"] = bench_phantom_classification(args.quick)
        elif section == "drive":
            results["drive"] = bench_drive(Path(args.drive), args.folds, args.drive_epochs, args.drive_patches,
                                           args.run_folds)
        seconds[section] = round(time.perf_counter() - started, 1)

    print(f"\n{'benchmark':<34}{'metric':<28}{'value':>10}  target")
    rows = []
    if {"2d", "3d"} <= set(results.get("phantom_segmentation", {})) and "phantom_classification" in results:
        for dim in ("2d", "3d"):
            r = results["phantom_segmentation"][dim]
            rows += [(f"phantom seg {dim}", "mean Dice", r["mean_dice"], ">= 0.90"),
                     (f"phantom seg {dim}", "mean HD95 (mm)", r["mean_hd95_mm"], "")]
        r = results["phantom_segmentation"]["2d"]
        rows += [("phantom seg 2d", "slices/s (whole image)", r["slices_per_s_whole"], ""),
                 ("phantom seg 2d", "sliding/whole time", r["sliding_window_32px_over_whole_time"], ""),
                 ("phantom seg 2d", "SavedModel/Keras time", r["savedmodel_batch_over_keras_batch_time"], ""),
                 ("phantom seg 3d", "32x96x96 sliding window s",
                  results["phantom_segmentation"]["3d"]["volume_32x96x96_sliding_window_s"], "")]
        c = results["phantom_classification"]
        rows += [("phantom lesion classification", "ROC-AUC", c["roc_auc"], ">= 0.95"),
                 ("phantom lesion classification", "sens / spec @0.5", f"{c['sensitivity']:.3f}/{c['specificity']:.3f}", ""),
                 ("phantom lesion classification", "ECE", c["ece"], "")]
    if "drive" in results:
        d = results["drive"]
        rows += [(f"DRIVE {args.folds}-fold CV", "Dice (FOV)", d["dice"], ">= 0.80"),
                 (f"DRIVE {args.folds}-fold CV", "pixel ROC-AUC (FOV)", d["roc_auc"], ">= 0.97"),
                 (f"DRIVE {args.folds}-fold CV", "train s / fold", d["train_s_per_fold"], "<= 1800")]
    ct = results.get("dicom_files", {}).get("CT_small.dcm", {"rescale_matches_hand": "-", "min": 0, "max": 0})
    rows += [("pydicom CT_small", "HU rescale == hand", ct["rescale_matches_hand"], "True"),
             ("pydicom CT_small", "HU range", f"{ct['min']:.0f}..{ct['max']:.0f}", "")]
    for bench, metric, value, target in rows:
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{bench:<34}{metric:<28}{shown:>10}  {target}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=float))
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

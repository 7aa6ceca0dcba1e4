"""Medical-imaging benchmark: phantoms (2-D / 3-D segmentation Dice and HD95, lesion AUC), real
retinal-vessel segmentation on DRIVE (k-fold cross-validation, Dice and pixel ROC-AUC inside the
field of view), the real CT / MR slices pydicom ships (I/O and windowing), and speed as same-run
ratios (whole-image vs sliding-window inference, SavedModel vs Keras).

    python -m bench.health_imaging --drive ../shared/data/drive [--quick] \
        [--sections seg3d,drive --update]
    # one DRIVE fold, merged into the JSON:
    python -m bench.health_imaging --sections drive --fold 2 --update
    # the DRIVE folds of a results file again, same settings (written to <file>.rerun.json):
    python -m bench.health_imaging --rerun bench/results/health_imaging_drive_raw_input.json

DRIVE runs through the public task API: ``MedicalSegmenter(preprocessing="fundus",
test_time_symmetries=...)`` learns on ``preprocess``-ed photos, ``predict_proba`` scores the RGB
photos, the threshold picked on the training images becomes the task's ``threshold``, and the
``*_export_raw_png`` columns score the SavedModel on PNG-encoded photos. Each fold row records
the task's full ``config``.

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
        if not isinstance(path, str):
            raise SystemExit(f"pydicom's test file {name} is not installed")
        volume, seconds = timed(hio.read, path)
        raw = pydicom.dcmread(path)
        hand = raw.pixel_array * float(raw.get("RescaleSlope", 1)) + float(
            raw.get("RescaleIntercept", 0)
        )
        row = {
            "modality": volume.modality,
            "shape": list(volume.shape),
            "spacing_mm": list(volume.spacing),
            "min": float(volume.array.min()),
            "max": float(volume.array.max()),
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
    seg = MedicalSegmenter(
        classes=train.class_names,
        patch_size=[64, 64],
        widths=[16, 32, 64],
        patches_per_epoch=256,
        batch_size=16,
        learning_rate=5e-3,
    )
    _, train_s = timed(seg.fit, train, epochs=4 if quick else 12, verbose=0)
    report = seg.evaluate(test)
    # speed: whole-image vs sliding-window (48-px windows, overlap 0.5) vs exported SavedModel
    images = test.images[:32]
    seg.predict_probabilities(images[0], mode="whole")
    _, whole_s = timed(lambda: [seg.predict_probabilities(x, mode="whole") for x in images])
    seg.config.patch_size = [32, 32]
    _, window_s = timed(
        lambda: [seg.predict_probabilities(x, mode="sliding_window") for x in images]
    )
    seg.config.patch_size = [64, 64]
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        served = tf.saved_model.load(str(seg.export(Path(tmp) / "seg"))).signatures[
            "serving_default"
        ]
        batch = tf.constant(images)
        served(image=batch)
        _, served_s = timed(lambda: served(image=batch)["mask"].numpy())
        _, keras_s = timed(lambda: seg.model.predict_on_batch(batch))
    return {
        "train_images": len(train),
        "test_images": len(test),
        "train_s": round(train_s, 1),
        "mean_dice": report["mean_dice"],
        "mean_hd95_mm": report["mean_hd95_mm"],
        "per_class": report["per_class"],
        "slices_per_s_whole": round(len(images) / whole_s, 1),
        "sliding_window_32px_over_whole_time": round(window_s / whole_s, 2),
        "savedmodel_batch_over_keras_batch_time": round(served_s / keras_s, 2),
    }


def bench_phantom_segmentation_3d(quick: bool, widths: list[int], epochs: int) -> dict[str, Any]:
    from health.segmentation import MedicalSegmenter

    train3 = make_phantoms(12 if quick else 32, (16, 48, 48), seed=1, lesion_fraction=0.7)
    test3 = make_phantoms(16, (16, 48, 48), seed=101, lesion_fraction=0.7)
    seg3 = MedicalSegmenter(
        classes=train3.class_names,
        patch_size=[16, 32, 32],
        widths=widths,
        patches_per_epoch=64 if quick else 128,
        batch_size=4,
        learning_rate=5e-3,
        foreground_fraction=0.5,
        balance_classes=True,
    )
    _, train3_s = timed(seg3.fit, train3, epochs=3 if quick else epochs, verbose=0)
    report3 = seg3.evaluate(test3)
    big = make_phantoms(1, (32, 96, 96), seed=7).images[0]
    _, volume_s = timed(seg3.predict_probabilities, big, mode="sliding_window")
    _, whole3_s = timed(seg3.predict_probabilities, big, mode="whole")
    return {
        "train_volumes": len(train3),
        "test_volumes": len(test3),
        "widths": widths,
        "epochs": 3 if quick else epochs,
        "train_s": round(train3_s, 1),
        "mean_dice": report3["mean_dice"],
        "mean_hd95_mm": report3["mean_hd95_mm"],
        "per_class": report3["per_class"],
        "volume_32x96x96_sliding_window_s": round(volume_s, 2),
        "sliding_window_over_whole_time": round(volume_s / whole3_s, 2),
    }


def bench_phantom_classification(quick: bool) -> dict[str, Any]:
    from health.classification import MedicalImageClassifier

    train = make_phantoms(160 if quick else 400, (64, 64), seed=2)
    test = make_phantoms(200, (64, 64), seed=102)
    clf = MedicalImageClassifier(
        classes=["normal", "lesion"], image_size=64, widths=[16, 32, 64], batch_size=32
    )
    _, train_s = timed(clf.fit, train, validation_data=test, epochs=6 if quick else 20, verbose=0)
    report = clf.evaluate(test)
    return {
        "train_images": len(train),
        "test_images": len(test),
        "train_s": round(train_s, 1),
        **{k: report[k] for k in ("roc_auc", "pr_auc", "sensitivity", "specificity", "ece")},
    }


# --------------------------------------------------------------------------- DRIVE
def load_drive(root: Path) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """RGB photos (uint8), vessel masks (0/1), field-of-view masks (bool) of the 20 training
    images."""
    from PIL import Image

    folder = root / "training"
    if not (folder / "images").is_dir():
        raise SystemExit(
            f"DRIVE not found under {root} (expected training/images, 1st_manual, mask)"
        )
    images, vessels, fovs = [], [], []
    for i in range(21, 41):
        with Image.open(folder / "images" / f"{i}_training.tif") as im:
            images.append(np.asarray(im.convert("RGB"), np.uint8))
        with Image.open(folder / "1st_manual" / f"{i}_manual1.gif") as im:
            vessels.append((np.asarray(im.convert("L")) > 127).astype(np.int32))
        with Image.open(folder / "mask" / f"{i}_training_mask.gif") as im:
            fovs.append(np.asarray(im.convert("L")) > 127)
    return images, vessels, fovs


DRIVE_RECIPE = {
    "input": (
        "the task's preprocessing='fundus' (health.fundus, in the model's graph): green channel "
        "-> CLAHE inside the FOV (8x8 tiles, clip 2.0) -> z-score inside the FOV, 0 outside; the "
        "FOV is estimated from the red channel (fov_threshold), not DRIVE's mask"
    ),
    "budget": "process CPU time of training is recorded next to wall time (shared 2-core machine)",
    "model": (
        "2-D U-Net (widths per the recipe's `widths`), loss per the recipe's `loss`, AdamW (warmup "
        "+ cosine)"
    ),
    "patches": (
        "64x64, centres uniform inside the FOV (a fifth on vessel pixels), random flips + quarter "
        "turns"
    ),
    "inference": (
        "MedicalSegmenter.predict_proba on the RGB photo: whole image, mean over "
        "test_time_symmetries (4 flips, or 8 with the transposed image)"
    ),
    "threshold": (
        "the one maximising Dice on the fold's own training images (test images never seen), "
        "then set as the task's threshold, so the export applies it"
    ),
    "metrics": (
        "inside DRIVE's FOV mask; 'pooled' over all test pixels of the fold (the usual DRIVE "
        "report), 'per_image' the mean of per-image values; '*_export' columns: the SavedModel's "
        "serving_default on the PNG-encoded RGB photo (raw bytes in, mask out)"
    ),
}


def reference_preprocessing(rgb: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """The earlier bench recipe in NumPy with DRIVE's own FOV mask (for the comparison column)."""
    from health.windowing import clahe

    green = rgb[..., 1].astype(np.float32)
    enhanced = clahe(green, mask=fov)
    return np.where(fov, hio.normalize(enhanced, "zscore", mask=fov), 0.0).astype(np.float32)


def png_bytes(rgb: np.ndarray) -> bytes:
    """The photo as a PNG file's bytes (what a client sends)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def dice_at(probabilities: list[np.ndarray], truths: list[np.ndarray], threshold: float) -> float:
    predicted = np.concatenate([p >= threshold for p in probabilities])
    truth = np.concatenate(truths).astype(bool)
    return float(2 * np.sum(predicted & truth) / max(predicted.sum() + truth.sum(), 1))


def drive_fold(
    photos: list[np.ndarray],
    vessels: list[np.ndarray],
    fovs: list[np.ndarray],
    fold: int,
    folds: int,
    epochs: int,
    patches: int,
    loss: str,
    jitter: float,
    tta: int,
    widths: list[int],
) -> dict[str, Any]:
    """Train on the other folds' images, pick the Dice threshold on them, score the fold's test
    images."""
    import tensorflow as tf
    from sklearn.metrics import roc_auc_score

    from health.data import PatchSampler, as_cases
    from health.segmentation import MedicalSegmenter

    order = np.arange(len(photos))
    test_idx = order[fold::folds]
    train_idx = np.setdiff1d(order, test_idx)
    patch = (64, 64)
    seg = MedicalSegmenter(
        classes=["background", "vessel"],
        patch_size=list(patch),
        widths=widths,
        window=None,
        scale=1.0,
        patches_per_epoch=patches,
        batch_size=16,
        loss=loss,
        learning_rate=3e-3,
        seed=fold,
        preprocessing="fundus",
        test_time_symmetries=tta,
    )
    images = [seg.preprocess(photos[i]) for i in range(len(photos))]
    cases = as_cases(
        ([images[i] for i in train_idx], [vessels[i] for i in train_idx], (1.0, 1.0)), 2, 1, 2
    )
    sampler = PatchSampler(
        cases,
        patch,
        foreground_fraction=0.2,
        flip=True,
        seed=fold,
        regions=[fovs[i] for i in train_idx],
        rotate=True,
        intensity_jitter=jitter,
    )
    dataset = (
        tf.data.Dataset.from_generator(
            lambda: (sampler.sample() for _ in range(patches)),
            output_signature=(
                tf.TensorSpec((*patch, 1), tf.float32),
                tf.TensorSpec(patch, tf.int32),
            ),
        )
        .apply(tf.data.experimental.assert_cardinality(patches))
        .batch(16)
        .prefetch(tf.data.AUTOTUNE)
    )
    cpu_started = time.process_time()
    _, train_s = timed(seg.fit, dataset, epochs=epochs, verbose=2)
    train_cpu_s = time.process_time() - cpu_started

    def inside_fov(indices):
        return [seg.predict_proba(photos[i])[..., 1][fovs[i]] for i in indices], [
            vessels[i][fovs[i]] for i in indices
        ]

    train_p, train_t = inside_fov(train_idx)
    thresholds = np.round(np.arange(0.2, 0.81, 0.025), 3)
    threshold = float(
        thresholds[int(np.argmax([dice_at(train_p, train_t, t) for t in thresholds]))]
    )
    seg.config.threshold = threshold
    seg.config.validate()
    (test_p, test_t), predict_s = timed(inside_fov, test_idx)
    python_masks = [seg.predict(photos[i])["mask"][fovs[i]].astype(np.float32) for i in test_idx]
    with tempfile.TemporaryDirectory() as tmp:
        version = seg.export(Path(tmp) / "vessels")
        served = tf.saved_model.load(str(version)).signatures["serving_default"]
        export_p, export_masks = [], []
        for i in test_idx:
            out = served(image_bytes=tf.constant([png_bytes(photos[i])]))
            export_p.append(out["probabilities"][0, ..., 1].numpy()[fovs[i]])
            export_masks.append(out["mask"][0].numpy()[fovs[i]].astype(np.float32))
    return {
        "fold": fold,
        "test_images": [int(21 + i) for i in test_idx],
        "train_s": round(train_s, 1),
        "train_cpu_s": round(train_cpu_s, 1),
        "threshold": threshold,
        "dice": dice_at(test_p, test_t, threshold),
        "dice_export_raw_png": dice_at(export_masks, test_t, 0.5),
        "dice_python_mask": dice_at(python_masks, test_t, 0.5),
        "max_abs_probability_difference_export_vs_python": float(
            max(np.abs(a - b).max() for a, b in zip(export_p, test_p, strict=True))
        ),
        "roc_auc": float(roc_auc_score(np.concatenate(test_t), np.concatenate(test_p))),
        "roc_auc_export_raw_png": float(
            roc_auc_score(np.concatenate(test_t), np.concatenate(export_p))
        ),
        "dice_per_image": float(
            np.mean([dice_at([p], [t], threshold) for p, t in zip(test_p, test_t, strict=True)])
        ),
        "roc_auc_per_image": float(
            np.mean([roc_auc_score(t, p) for p, t in zip(test_p, test_t, strict=True)])
        ),
        "roc_auc_by_image": [
            round(float(roc_auc_score(t, p)), 4) for p, t in zip(test_p, test_t, strict=True)
        ],
        "dice_by_image": [
            round(dice_at([p], [t], threshold), 4) for p, t in zip(test_p, test_t, strict=True)
        ],
        "dice_at_0.5": dice_at(test_p, test_t, 0.5),
        "train_dice_at_threshold": dice_at(train_p, train_t, threshold),
        "final_train_loss": float(seg.history["loss"][-1]),
        f"predict_s_per_image_{tta}_symmetries": round(predict_s / len(test_idx), 2),
        "config": seg.config.to_dict(),
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


def bench_drive(
    root: Path,
    folds: int,
    epochs: int,
    patches: int,
    only: list[int] | None,
    loss: str,
    jitter: float,
    tta: int,
    widths: list[int],
) -> dict[str, Any]:
    """k-fold CV over the 20 training images (see DRIVE_RECIPE); ``only`` runs some of the folds
    (``merge_drive`` adds them to those already in the JSON, so each fold can be its own call)."""
    if folds < 2:
        raise SystemExit("--folds must be at least 2")
    for fold in only or ():
        if not 0 <= fold < folds:
            raise SystemExit(f"--fold {fold} is outside 0..{folds - 1}")
    photos, vessels, fovs = load_drive(root)
    comparison = compare_preprocessing(photos, fovs)
    print(f"  DRIVE preprocessing, graph vs NumPy reference: {comparison}", flush=True)
    rows = []
    for fold in only if only is not None else range(folds):
        row = drive_fold(
            photos, vessels, fovs, fold, folds, epochs, patches, loss, jitter, tta, widths
        )
        row["preprocessing_vs_reference"] = comparison
        rows.append(row)
        print(
            f"  DRIVE fold {fold}: Dice {row['dice']:.4f} (export on PNG bytes "
            f"{row['dice_export_raw_png']:.4f}) ROC-AUC {row['roc_auc']:.4f} (threshold "
            f"{row['threshold']}) train {row['train_s']:.0f} s, load {row['load_average_after']}",
            flush=True,
        )
    recipe = dict(
        DRIVE_RECIPE, loss=loss, intensity_jitter=jitter, test_time_symmetries=tta, widths=widths
    )
    return {
        "folds": folds,
        "epochs": epochs,
        "patches_per_epoch": patches,
        "recipe": recipe,
        "fold_results": rows,
    }


def compare_preprocessing(photos: list[np.ndarray], fovs: list[np.ndarray]) -> dict[str, float]:
    """The task's graph preprocessing (estimated FOV) against the NumPy reference (DRIVE's FOV)."""
    from health import fundus

    ious, differences = [], []
    for rgb, fov in zip(photos, fovs, strict=True):
        estimated = fundus.estimate_fov(rgb).numpy()
        ious.append((estimated & fov).sum() / max((estimated | fov).sum(), 1))
        graph = fundus.preprocess_fundus(rgb.astype(np.float32)).numpy()
        differences.append(np.abs(graph - reference_preprocessing(rgb, fov))[fov].mean())
    same_fov = max(
        float(
            np.abs(
                fundus.preprocess_fundus(rgb.astype(np.float32), fov=fov).numpy()
                - reference_preprocessing(rgb, fov)
            ).max()
        )
        for rgb, fov in zip(photos[:3], fovs[:3], strict=True)
    )
    return {
        "fov_iou_mean": round(float(np.mean(ious)), 4),
        "fov_iou_min": round(float(np.min(ious)), 4),
        "mean_abs_difference_in_fov": round(float(np.mean(differences)), 4),
        "max_abs_difference_given_drive_fov_3_images": round(same_fov, 6),
    }


def merge_drive(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """New fold rows over the previous ones run with the same settings; means over all folds."""
    settings = {k: new[k] for k in ("folds", "epochs", "patches_per_epoch", "recipe")}
    rows = {r["fold"]: r for r in new["fold_results"]}
    if previous and all(previous.get(k) == v for k, v in settings.items()):
        rows = {**{r["fold"]: r for r in previous.get("fold_results", [])}, **rows}
    results = [rows[k] for k in sorted(rows)]
    summary = {
        key: float(np.mean([r[key] for r in results]))
        for key in ("dice", "roc_auc", "dice_per_image", "roc_auc_per_image", "dice_at_0.5")
    }
    return {
        **settings,
        "fold_results": results,
        "folds_done": sorted(rows),
        **summary,
        "train_s_per_fold": round(float(np.mean([r["train_s"] for r in results])), 1),
        "train_cpu_s_per_fold": round(
            float(np.mean([r.get("train_cpu_s", np.nan) for r in results])), 1
        ),
    }


def channel_widths(text: str) -> list[int]:
    """argparse type for U-Net widths: positive integers, comma-separated ("24,48,96,192")."""
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"widths must be positive integers separated by commas, got {text!r}"
        )
    return widths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--drive", default=str(DEFAULT_DRIVE), help="DRIVE folder (holds training/)"
    )
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument(
        "--fold",
        type=int,
        action="append",
        help="run only this DRIVE fold (repeatable) and merge it into the JSON's other folds",
    )
    parser.add_argument("--drive-epochs", type=int, default=48)
    parser.add_argument(
        "--drive-patches", type=int, default=1024, help="training patches per epoch"
    )
    parser.add_argument(
        "--drive-loss", default="dice_ce", choices=("dice_ce", "dice", "cross_entropy")
    )
    parser.add_argument(
        "--drive-tta",
        type=int,
        default=8,
        choices=(4, 8),
        help="test-time augmentation: mean over 4 flips or all 8 symmetries",
    )
    parser.add_argument(
        "--drive-jitter",
        type=float,
        default=0.3,
        help="random intensity scale/shift of training patches (PatchSampler intensity_jitter)",
    )
    parser.add_argument(
        "--drive-widths",
        type=channel_widths,
        default="24,48,96,192",
        help="DRIVE U-Net widths, comma-separated",
    )
    parser.add_argument(
        "--seg3d-widths",
        type=channel_widths,
        default="16,32,64",
        help="3-D phantom U-Net widths, comma-separated",
    )
    parser.add_argument(
        "--seg3d-epochs", type=int, default=60, help="3-D phantom epochs of 128 patches"
    )
    parser.add_argument("--quick", action="store_true", help="small phantom runs (minutes)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other sections of an existing JSON (re-run only --sections)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="JSON path (default bench/results/health_imaging[.quick].json)",
    )
    parser.add_argument(
        "--rerun",
        metavar="RESULTS_JSON",
        help="run the DRIVE folds of RESULTS_JSON again with their recorded settings",
    )
    args = parser.parse_args(argv)
    if args.rerun:
        drive = json.loads(Path(args.rerun).read_text()).get("drive")
        if not drive or "folds_done" not in drive:
            parser.error(f"{args.rerun} holds no DRIVE run to repeat")
        recipe = drive["recipe"]
        if recipe.get("input") != DRIVE_RECIPE["input"] or "config" not in drive["fold_results"][0]:
            parser.error(
                f"{args.rerun} was run with an earlier DRIVE recipe; it cannot be repeated"
            )
        args.sections, args.fold, args.folds = "drive", drive["folds_done"], drive["folds"]
        args.drive_epochs, args.drive_patches = drive["epochs"], drive["patches_per_epoch"]
        args.drive_loss, args.drive_jitter = recipe["loss"], recipe["intensity_jitter"]
        args.drive_tta, args.drive_widths = recipe["test_time_symmetries"], recipe["widths"]
        args.output = args.output or str(Path(args.rerun).with_suffix(".rerun.json"))

    sections = [x for x in args.sections.split(",") if x]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    output = (
        Path(args.output)
        if args.output
        else RESULTS / ("health_imaging.quick.json" if args.quick else "health_imaging.json")
    )
    computed: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for section in sections:
        started = time.perf_counter()
        if section == "dicom":
            computed["dicom"] = bench_dicom_files()
        elif section == "seg2d":
            computed["seg2d"] = bench_phantom_segmentation_2d(args.quick)
        elif section == "seg3d":
            computed["seg3d"] = bench_phantom_segmentation_3d(
                args.quick, args.seg3d_widths, args.seg3d_epochs
            )
        elif section == "classify":
            computed["classify"] = bench_phantom_classification(args.quick)
        elif section == "drive":
            computed["drive"] = bench_drive(
                Path(args.drive),
                args.folds,
                args.drive_epochs,
                args.drive_patches,
                args.fold,
                args.drive_loss,
                args.drive_jitter,
                args.drive_tta,
                args.drive_widths,
            )
        seconds[section] = round(time.perf_counter() - started, 1)

    # read the JSON only now: other calls (e.g. other DRIVE folds) may have written it meanwhile
    results: dict[str, Any] = (
        json.loads(output.read_text()) if args.update and output.exists() else {}
    )
    results["machine"] = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "note": "shared, loaded CPU machine; timings are indicative, ratios are same-run",
    }
    results.setdefault("phantom_segmentation", {})
    results.setdefault("section_seconds", {}).update(seconds)
    if "dicom" in computed:
        results["dicom_files"] = computed["dicom"]
    for dim in ("2d", "3d"):
        if f"seg{dim}" in computed:
            results["phantom_segmentation"][dim] = computed[f"seg{dim}"]
    if "classify" in computed:
        results["phantom_classification"] = computed["classify"]
    if "drive" in computed:
        results["drive"] = merge_drive(
            results.get("drive") if args.fold else None, computed["drive"]
        )
    if "folds_done" not in results.get("drive", {"folds_done": []}):
        results.pop("drive")  # an earlier recipe's format: no longer comparable
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=float))  # before printing: nothing lost

    print(f"\n{'benchmark':<34}{'metric':<28}{'value':>10}  target")
    rows = []
    if {"2d", "3d"} <= set(
        results.get("phantom_segmentation", {})
    ) and "phantom_classification" in results:
        for dim in ("2d", "3d"):
            r = results["phantom_segmentation"][dim]
            rows += [
                (f"phantom seg {dim}", "mean Dice", r["mean_dice"], ">= 0.90"),
                (f"phantom seg {dim}", "mean HD95 (mm)", r["mean_hd95_mm"], ""),
            ]
        r = results["phantom_segmentation"]["2d"]
        rows += [
            ("phantom seg 2d", "slices/s (whole image)", r["slices_per_s_whole"], ""),
            ("phantom seg 2d", "sliding/whole time", r["sliding_window_32px_over_whole_time"], ""),
            (
                "phantom seg 2d",
                "SavedModel/Keras time",
                r["savedmodel_batch_over_keras_batch_time"],
                "",
            ),
            (
                "phantom seg 3d",
                "32x96x96 sliding window s",
                results["phantom_segmentation"]["3d"]["volume_32x96x96_sliding_window_s"],
                "",
            ),
        ]
        c = results["phantom_classification"]
        rows += [
            ("phantom lesion classification", "ROC-AUC", c["roc_auc"], ">= 0.95"),
            (
                "phantom lesion classification",
                "sens / spec @0.5",
                f"{c['sensitivity']:.3f}/{c['specificity']:.3f}",
                "",
            ),
            ("phantom lesion classification", "ECE", c["ece"], ""),
        ]
    if "drive" in results:
        d = results["drive"]
        name = f"DRIVE {d['folds']}-fold CV ({len(d['folds_done'])} run)"
        for r in d["fold_results"]:
            rows += [
                (
                    f"DRIVE fold {r['fold']}",
                    "Dice / ROC-AUC (pooled)",
                    f"{r['dice']:.4f}/{r['roc_auc']:.4f}",
                    "",
                ),
                (
                    f"DRIVE fold {r['fold']}",
                    "train min wall / CPU",
                    f"{r['train_s'] / 60:.1f}/{r['train_cpu_s'] / 60:.1f}",
                    "",
                ),
            ]
        rows += [
            (name, "Dice (FOV, pooled)", d["dice"], ">= 0.80"),
            (name, "pixel ROC-AUC (FOV, pooled)", d["roc_auc"], ">= 0.97"),
            (name, "Dice (FOV, per-image mean)", d["dice_per_image"], ">= 0.80"),
            (name, "ROC-AUC (FOV, per-image mean)", d["roc_auc_per_image"], ">= 0.97"),
            (name, "train s / fold (wall)", d["train_s_per_fold"], "<= 1800"),
            (name, "train CPU s / fold (all threads)", d["train_cpu_s_per_fold"], ""),
        ]
    ct = results.get("dicom_files", {}).get(
        "CT_small.dcm", {"rescale_matches_hand": "-", "min": 0, "max": 0}
    )
    rows += [
        ("pydicom CT_small", "HU rescale == hand", ct["rescale_matches_hand"], "True"),
        ("pydicom CT_small", "HU range", f"{ct['min']:.0f}..{ct['max']:.0f}", ""),
    ]
    for bench, metric, value, target in rows:
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{bench:<34}{metric:<28}{shown:>10}  {target}")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

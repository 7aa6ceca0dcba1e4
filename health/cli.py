"""``dlsuite health segment|classify train|evaluate|predict|export`` (+ ``classify explain``,
``deidentify``), registered through the ``dlsuite.cli`` entry point."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from health import io as hio

SEGMENT_DATA_HELP = (
    "a folder of cases (<case>/image.nii[.gz] or <case>/dicom/, and <case>/mask.nii[.gz]), "
    "'builtin:phantoms' (2-D CT slices) or 'builtin:phantoms3d'"
)
CLASSIFY_DATA_HELP = (
    "a CSV with image,label columns (paths relative to it; 'a|b' for several findings), 'builtin:phantoms' "
    "or a prepared TFDS set 'tfds:NAME[:SPLIT]' (e.g. tfds:patch_camelyon, tfds:curated_breast_imaging_ddsm/patches)"
)


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _check_output(path: str, overwrite: bool) -> Path:
    output = Path(path)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    return output


def segment_data(spec: str, part: str, size: int = 64) -> Any:
    """Data spec -> what MedicalSegmenter.fit/evaluate take (built-ins: fixed seeds per part)."""
    seed = 0 if part == "train" else 1
    if spec == "builtin:phantoms":
        return hio.make_phantoms(
            160 if part == "train" else 40, (size, size), seed=seed, lesion_fraction=0.7
        )
    if spec == "builtin:phantoms3d":
        return hio.make_phantoms(
            24 if part == "train" else 6, (16, size, size), seed=seed, lesion_fraction=0.7
        )
    if spec.startswith("builtin:"):
        raise ValueError(
            f"unknown built-in data {spec!r}; choose builtin:phantoms or builtin:phantoms3d"
        )
    if not Path(spec).is_dir():
        raise ValueError(f"data {spec!r} is not a folder of cases ({SEGMENT_DATA_HELP})")
    return spec


def classify_data(
    spec: str, part: str, size: int = 64, data_dir: str | None = None, limit: int | None = None
) -> Any:
    if spec.startswith("tfds:"):
        from health.tfds_sets import load_tfds_medical

        name, _, split = spec.removeprefix("tfds:").partition(":")
        return load_tfds_medical(
            name, split or ("validation" if part == "val" else "train"), data_dir, limit
        )
    if spec == "builtin:phantoms":
        return hio.make_phantoms(
            320 if part == "train" else 100, (size, size), seed=2 if part == "train" else 3
        )
    if not (spec.endswith(".csv") and Path(spec).is_file()):
        raise ValueError(f"data {spec!r} is not a CSV file, builtin:phantoms nor tfds:NAME")
    return spec


def _load(path: str, kind: type) -> Any:
    from common.task import load_task

    task = load_task(path)
    if not isinstance(task, kind):
        raise ValueError(f"{path} holds a {type(task).__name__}, not a {kind.__name__}")
    return task


def _window(value: str | None) -> Any:
    if value is None or value == "none":
        return None
    if "," in value:
        return [float(v) for v in value.split(",")]
    return value


# ------------------------------------------------------------------ segment
def _segment_train(args: argparse.Namespace) -> int:
    from health.segmentation import MedicalSegmenter

    output = _check_output(args.output, args.overwrite)
    data = segment_data(args.data, "train")
    val = (
        segment_data(args.val_data or args.data, "val")
        if args.val_data or args.data.startswith("builtin:")
        else None
    )
    patch = [int(p) for p in args.patch_size.split(",")]
    if args.data == "builtin:phantoms3d" and len(patch) == 2:
        patch = [16, *patch]
    task = MedicalSegmenter(
        classes=args.classes.split(",") if args.classes else ["background", "organ", "lesion"],
        patch_size=patch,
        widths=[int(w) for w in args.widths.split(",")],
        window=_window(args.window),
        patches_per_epoch=args.patches_per_epoch,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    task.fit(
        data,
        epochs=args.epochs,
        work_dir=args.work_dir,
        resume=args.resume,
        strategy=args.strategy,
        verbose=2,
    )
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val)
        print(
            f"validation mean Dice {report['mean_dice']:.4f}, mean HD95 {report['mean_hd95_mm']:.2f} mm"
        )
    return 0


def _segment_evaluate(args: argparse.Namespace) -> int:
    from health.segmentation import MedicalSegmenter

    task = _load(args.model, MedicalSegmenter)
    print(json.dumps(_json(task.evaluate(segment_data(args.data, args.part))), indent=2))
    return 0


def _segment_predict(args: argparse.Namespace) -> int:
    from health.segmentation import MedicalSegmenter

    task = _load(args.model, MedicalSegmenter)
    for path in args.inputs:
        result = task.predict(path)[0]
        sizes = result.get("volume_ml") or result.get("area_mm2") or {}
        unit = "ml" if "volume_ml" in result else "mm2"
        print(
            f"{Path(path).name}: shape {result['mask'].shape}, "
            + ", ".join(f"{k} {v:.2f} {unit}" for k, v in sizes.items())
        )
        if args.mask_dir:
            volume = hio.read(path)
            hio.write_nifti(
                hio.Volume(result["mask"].astype(np.uint8), volume.spacing),
                Path(args.mask_dir) / f"{Path(path).name.split('.')[0]}_mask.nii.gz",
                dtype=np.uint8,
            )
    return 0


# ------------------------------------------------------------------ classify
def _classify_train(args: argparse.Namespace) -> int:
    from health.classification import MedicalImageClassifier

    output = _check_output(args.output, args.overwrite)
    data = classify_data(args.data, "train", args.image_size, args.data_dir, args.limit)
    with_val = args.val_data or args.data.startswith("builtin:")
    val = (
        classify_data(args.val_data or args.data, "val", args.image_size, args.data_dir, args.limit)
        if with_val
        else None
    )
    intensity: dict[str, Any] = {"window": _window(args.window)}
    if hasattr(data, "classes"):  # a TFDS set: 8-bit images scaled to [0, 1], its own channels
        intensity = {"window": None, "scale": 1 / 255, "channels": int(data.images[0].shape[-1])}
    if args.classes:
        classes = args.classes.split(",")
    elif hasattr(data, "classes"):
        classes = data.classes
    elif args.data.startswith("builtin:"):
        classes = ["normal", "lesion"]
    else:
        from health.data import read_label_csv

        classes = read_label_csv(args.data)[2]
    task = MedicalImageClassifier(
        classes=classes,
        multi_label=args.multi_label,
        image_size=args.image_size,
        **intensity,
        loss=args.loss,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        widths=[int(w) for w in args.widths.split(",")],
    )
    task.fit(
        data,
        validation_data=val,
        epochs=args.epochs,
        work_dir=args.work_dir,
        resume=args.resume,
        strategy=args.strategy,
        verbose=2,
    )
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val)
        auc = report.get("roc_auc", report.get("macro_roc_auc"))
        print(f"validation ROC-AUC {auc:.4f}")
    return 0


def _classify_evaluate(args: argparse.Namespace) -> int:
    from health.classification import MedicalImageClassifier

    task = _load(args.model, MedicalImageClassifier)
    data = classify_data(args.data, args.part, task.config.image_size, args.data_dir, args.limit)
    report = task.evaluate(data, threshold=args.threshold, report_dir=args.report_dir)
    print(json.dumps(_json(report), indent=2))
    return 0


def _classify_predict(args: argparse.Namespace) -> int:
    from health.classification import MedicalImageClassifier

    task = _load(args.model, MedicalImageClassifier)
    for path, result in zip(args.inputs, task.predict(list(args.inputs)), strict=True):
        scores = ", ".join(f"{k} {v:.3f}" for k, v in result["scores"].items())
        print(f"{Path(path).name}: {result.get('label', result.get('labels'))} ({scores})")
    return 0


def _classify_explain(args: argparse.Namespace) -> int:
    from health.classification import MedicalImageClassifier
    from health.gradcam import explain

    task = _load(args.model, MedicalImageClassifier)
    for path in args.inputs:
        target = Path(args.output_dir) / f"{Path(path).name.split('.')[0]}_gradcam.png"
        result = explain(task, path, path=target, class_index=args.target_class)
        print(f"{Path(path).name}: {result['class']} {result['score']:.3f} -> {target}")
    return 0


def _export(kind: str):
    def run(args: argparse.Namespace) -> int:
        from health.classification import MedicalImageClassifier
        from health.segmentation import MedicalSegmenter

        task = _load(args.model, MedicalSegmenter if kind == "segment" else MedicalImageClassifier)
        print(f"exported {task.export(args.output, version=args.version)}")
        return 0

    return run


def _deidentify(args: argparse.Namespace) -> int:
    source, target = Path(args.source), Path(args.output)
    files = hio.dicom_files(source) if source.is_dir() else [source]
    for path in files:
        relative = path.relative_to(source) if source.is_dir() else Path(path.name)
        hio.deidentify_file(path, target / relative, salt=args.salt)
    print(f"de-identified {len(files)} file(s) into {target}")
    return 0


def _common_train(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--data", required=True, help=help_text)
    parser.add_argument("--val-data", help="validation data (same forms as --data)")
    parser.add_argument("--classes", help="comma-separated class names in index order")
    parser.add_argument(
        "--window",
        default="abdomen",
        help="CT window preset (lung, mediastinum, bone, brain, abdomen, ...), 'LEVEL,WIDTH' or none",
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument(
        "--work-dir", help="checkpoint folder; an interrupted run resumes with --resume"
    )
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=["auto", "mirrored", "multi_worker"],
        help="tf.distribute strategy (multi_worker reads TF_CONFIG)",
    )
    parser.add_argument("--output", required=True, help="where to save the .keras file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``health`` with its ``segment``, ``classify`` and ``deidentify`` sub-commands."""
    health = commands.add_parser(
        "health", help="medical imaging: DICOM/NIfTI segmentation and classification"
    )
    tasks = health.add_subparsers(dest="health_task", metavar="TASK", required=True)

    segment = tasks.add_parser("segment", help="organ / lesion segmentation (2-D or 3-D U-Net)")
    actions = segment.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="train a segmenter and save it as .keras")
    _common_train(train, SEGMENT_DATA_HELP)
    train.add_argument(
        "--patch-size", default="64,64", help="patch sides: 'H,W' (2-D) or 'D,H,W' (3-D)"
    )
    train.add_argument("--widths", default="16,32,64", help="U-Net widths per level")
    train.add_argument("--patches-per-epoch", type=int, default=256)
    train.set_defaults(func=_segment_train)
    evaluate = actions.add_parser("evaluate", help="Dice, IoU and HD95 (mm) per structure")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True, help=SEGMENT_DATA_HELP)
    evaluate.add_argument(
        "--part", choices=["train", "val"], default="val", help="part of a built-in set"
    )
    evaluate.set_defaults(func=_segment_evaluate)
    predict = actions.add_parser("predict", help="segment DICOM series / NIfTI / image files")
    predict.add_argument("--model", required=True)
    predict.add_argument("--mask-dir", help="write each mask as NIfTI here")
    predict.add_argument(
        "inputs", nargs="+", help="DICOM series folders, DICOM files, .nii[.gz], PNG"
    )
    predict.set_defaults(func=_segment_predict)

    classify = tasks.add_parser(
        "classify", help="findings on 2-D images (binary, multi-class, multi-label)"
    )
    actions = classify.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="train a classifier and save it as .keras")
    _common_train(train, CLASSIFY_DATA_HELP)
    train.add_argument("--image-size", type=int, default=64)
    train.add_argument("--widths", default="16,32,64", help="ResNet stage widths")
    train.add_argument("--multi-label", action="store_true", help="independent findings (sigmoid)")
    train.add_argument("--loss", choices=["cross_entropy", "focal"], default="cross_entropy")
    train.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    train.add_argument("--limit", type=int, help="use at most this many examples of a tfds: set")
    train.set_defaults(func=_classify_train)
    evaluate = actions.add_parser("evaluate", help="ROC-AUC, PR-AUC, sensitivity/specificity, ECE")
    evaluate.add_argument("--model", required=True)
    evaluate.add_argument("--data", required=True, help=CLASSIFY_DATA_HELP)
    evaluate.add_argument(
        "--part", choices=["train", "val"], default="val", help="part of a built-in set"
    )
    evaluate.add_argument("--threshold", type=float, help="operating point (default: the model's)")
    evaluate.add_argument("--report-dir", help="write reliability plots here")
    evaluate.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    evaluate.add_argument("--limit", type=int, help="use at most this many examples of a tfds: set")
    evaluate.set_defaults(func=_classify_evaluate)
    predict = actions.add_parser("predict", help="scores for DICOM / NIfTI / PNG images")
    predict.add_argument("--model", required=True)
    predict.add_argument("inputs", nargs="+")
    predict.set_defaults(func=_classify_predict)
    explain = actions.add_parser("explain", help="Grad-CAM overlay PNGs")
    explain.add_argument("--model", required=True)
    explain.add_argument("--output-dir", required=True)
    explain.add_argument("--target-class", help="class to explain (default: the predicted one)")
    explain.add_argument("inputs", nargs="+")
    explain.set_defaults(func=_classify_explain)

    for name, parser in (("segment", segment), ("classify", classify)):
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        export = sub.add_parser("export", help="write a TF Serving SavedModel version")
        export.add_argument("--model", required=True)
        export.add_argument(
            "--output", required=True, help="model base folder, e.g. models/health_" + name
        )
        export.add_argument("--version", type=int)
        export.set_defaults(func=_export(name))

    deid = tasks.add_parser("deidentify", help="copy DICOM files without patient identifiers")
    deid.add_argument("source", help="a DICOM file or folder")
    deid.add_argument("--output", required=True, help="target folder")
    deid.add_argument("--salt", default="", help="secret mixed into the replacement UIDs")
    deid.set_defaults(func=_deidentify)

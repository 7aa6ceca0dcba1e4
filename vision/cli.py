"""``dlsuite vision classify train|evaluate|predict|export`` (registered through an entry point)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common.data import train_val_split
from common.task import load_task
from vision.classification import BACKBONES, ImageClassifier
from vision.data import ImageArrays, load_digits, load_image_folder, load_tfds_images, make_shapes
from vision.detection import cli as detection_cli
from vision.segmentation import cli as segmentation_cli

DATA_HELP = (
    "an image folder (one sub-folder per class), 'builtin:digits', 'builtin:shapes' or "
    "'tfds:NAME[:SPLIT]'"
)


def resolve_data(
    spec: str, image_size: int, part: str, data_dir: str | None = None
) -> tuple[Any, list[str]]:
    """A data spec -> (data accepted by ImageClassifier.fit/evaluate, class names).

    ``part`` is "train", "val" or "all"; built-in sets use a fixed stratified 80/20 split.
    """
    if spec.startswith("builtin:"):
        name = spec.removeprefix("builtin:")
        loaders = {"digits": load_digits, "shapes": make_shapes}
        if name not in loaders:
            raise ValueError(f"unknown built-in dataset {name!r}; choose digits or shapes")
        arrays: ImageArrays = loaders[name]()
        if part == "all":
            return (arrays.images, arrays.labels), arrays.class_names
        train, val = train_val_split(arrays.images, arrays.labels, 0.2, seed=0)
        return (train if part == "train" else val), arrays.class_names
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        split = split or ("test" if part == "val" else "train")
        return load_tfds_images(name, split=split, data_dir=data_dir)
    folder = Path(spec)
    if not folder.is_dir():
        raise ValueError(
            f"data {spec!r} is neither a folder nor a builtin:/tfds: name ({DATA_HELP})"
        )
    _, names = load_image_folder(folder, image_size)
    return str(folder), names


def _train(args: argparse.Namespace) -> int:
    data, classes = resolve_data(args.data, args.image_size, "train", args.data_dir)
    val = None
    if args.val_data:
        val, _ = resolve_data(args.val_data, args.image_size, "val", args.data_dir)
    elif args.data.startswith("builtin:"):
        val, _ = resolve_data(args.data, args.image_size, "val")
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    task = ImageClassifier(
        classes=args.classes.split(",") if args.classes else classes,
        image_size=args.image_size,
        backbone=args.backbone,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        augment=not args.no_augment,
        flip=None if args.no_flip else "horizontal",
    )
    task.fit(
        data,
        validation_data=val,
        epochs=args.epochs,
        work_dir=args.work_dir,
        resume=args.resume,
        strategy=args.strategy,
        patience=args.patience,
        verbose=2,
    )
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val)
        print(f"validation accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}")
    return 0


def _load_classifier(path: str) -> ImageClassifier:
    task = load_task(path)
    if not isinstance(task, ImageClassifier):
        raise ValueError(f"{path} holds a {type(task).__name__}, not an ImageClassifier")
    return task


def _evaluate(args: argparse.Namespace) -> int:
    task = _load_classifier(args.model)
    data, _ = resolve_data(args.data, task.config.image_size, args.part, args.data_dir)
    report = task.evaluate(data, report_dir=args.report_dir)
    summary = {k: v for k, v in report.items() if k not in ("per_class", "confusion_matrix")}
    print(json.dumps(report if args.json else summary, indent=2))
    return 0


def _predict(args: argparse.Namespace) -> int:
    task = _load_classifier(args.model)
    for path, result in zip(args.images, task.predict(args.images, top_k=args.top_k), strict=True):
        ranked = ", ".join(f"{r['label']} {r['score']:.3f}" for r in result["top_k"])
        print(f"{path}: {ranked}")
    return 0


def _export(args: argparse.Namespace) -> int:
    task = _load_classifier(args.model)
    print(f"exported {task.export(args.output, version=args.version)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``vision`` with its ``classify``, ``detect`` and ``segment`` sub-commands."""
    vision = commands.add_parser(
        "vision", help="image classification, object detection, segmentation"
    )
    tasks = vision.add_subparsers(dest="vision_task", metavar="TASK", required=True)
    classify = tasks.add_parser("classify", help="image classification")
    actions = classify.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser("train", help="train a classifier and save it as .keras")
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument("--val-data", help="validation data (same forms as --data)")
    train.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    train.add_argument("--classes", help="comma-separated class names (default: from the data)")
    train.add_argument("--image-size", type=int, default=64)
    train.add_argument("--backbone", choices=BACKBONES, default="small_resnet")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=3e-3)
    train.add_argument("--no-augment", action="store_true", help="disable augmentation")
    train.add_argument("--no-flip", action="store_true", help="no horizontal flips (digits, text)")
    train.add_argument("--patience", type=int, help="early stopping patience in epochs")
    train.add_argument(
        "--work-dir", help="checkpoint folder; an interrupted run resumes with --resume"
    )
    train.add_argument("--resume", action="store_true")
    train.add_argument("--strategy", default="auto", choices=["auto", "mirrored", "multi_worker"])
    train.add_argument("--output", required=True, help="where to save the .keras file")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    train.set_defaults(func=_train)

    evaluate = actions.add_parser("evaluate", help="accuracy, per-class report, confusion matrix")
    evaluate.add_argument("--model", required=True, help="a .keras file written by train")
    evaluate.add_argument("--data", required=True, help=DATA_HELP)
    evaluate.add_argument(
        "--part",
        choices=["val", "all"],
        default="val",
        help="for builtin: data, the validation part or everything",
    )
    evaluate.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    evaluate.add_argument("--report-dir", help="write confusion_matrix.png here")
    evaluate.add_argument("--json", action="store_true", help="print the full report as JSON")
    evaluate.set_defaults(func=_evaluate)

    predict = actions.add_parser("predict", help="top-k labels for image files")
    predict.add_argument("--model", required=True)
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP)")
    predict.set_defaults(func=_predict)

    export = actions.add_parser("export", help="write a TF Serving SavedModel version")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True, help="model base folder, e.g. models/digits")
    export.add_argument("--version", type=int, help="version number (default: next free)")
    export.set_defaults(func=_export)

    detection_cli.register(tasks)
    segmentation_cli.register(tasks)

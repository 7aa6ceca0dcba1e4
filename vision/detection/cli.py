"""``dlsuite vision detect train|evaluate|predict|export`` (added by ``vision.cli.register``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common.task import load_task
from vision.detection import ObjectDetector
from vision.detection.data import load_coco, load_tfds_detection, load_voc, make_shape_scenes

DATA_HELP = (
    "a COCO instances .json file (images in --image-dir), a Pascal VOC folder, "
    "'builtin:shapes' or 'tfds:NAME[:SPLIT]' (e.g. tfds:voc/2007:validation)"
)


def resolve_data(
    spec: str,
    part: str,
    image_dir: str | None = None,
    data_dir: str | None = None,
    class_names: list[str] | None = None,
) -> tuple[Any, list[str]]:
    """A data spec -> (data accepted by ObjectDetector.fit/evaluate, class names).

    ``part`` is "train" or "val": built-in shapes use a fixed 80/20 split, VOC folders the
    ``ImageSets/Main/<part>.txt`` list (every file when the folder has no split lists).
    """
    if spec == "builtin:shapes":
        train, val = make_shape_scenes(
            400, 128, max_objects=3, min_size=0.2, max_size=0.5, seed=0
        ).split(0.2)
        return (train if part == "train" else val), train.class_names
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        return load_tfds_detection(
            name, split or ("validation" if part == "val" else "train"), data_dir
        )
    path = Path(spec)
    if path.suffix == ".json":
        data = load_coco(path, image_dir, class_names)
        return data, data.class_names
    if path.is_dir():
        has_split = (path / "ImageSets" / "Main" / f"{part}.txt").is_file()
        data = load_voc(path, part if has_split else None, class_names)
        return data, data.class_names
    raise ValueError(
        f"data {spec!r} is not a COCO .json file, a VOC folder or a builtin:/tfds: name"
    )


def _load(path: str) -> ObjectDetector:
    task = load_task(path)
    if not isinstance(task, ObjectDetector):
        raise ValueError(f"{path} holds a {type(task).__name__}, not an ObjectDetector")
    return task


def _train(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    classes = args.classes.split(",") if args.classes else None
    data, found = resolve_data(args.data, "train", args.image_dir, args.data_dir, classes)
    val = None
    if args.val_data:
        val, _ = resolve_data(args.val_data, "val", args.image_dir, args.data_dir, classes or found)
    elif args.data == "builtin:shapes":
        val, _ = resolve_data(args.data, "val")
    task = ObjectDetector(
        classes=classes or found,
        image_size=args.image_size,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        box_loss=args.box_loss,
        flip=None if args.flip == "none" else args.flip,
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
        print(
            f"validation mAP {report['mAP']:.4f}, mAP@.5 {report['mAP_50']:.4f}, mAP@.75 {report['mAP_75']:.4f}"
        )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    task = _load(args.model)
    data, _ = resolve_data(args.data, args.part, args.image_dir, args.data_dir, task.classes)
    report = task.evaluate(data)
    print(json.dumps(report, indent=2))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from vision.draw import draw_detections

    task = _load(args.model)
    results = task.predict(args.images, score_threshold=args.score_threshold)
    for path, result in zip(args.images, results, strict=True):
        found = ", ".join(
            f"{label} {score:.2f} [{', '.join(f'{v:.0f}' for v in box)}]"
            for label, score, box in zip(
                result["labels"], result["scores"], result["boxes"], strict=True
            )
        )
        print(f"{path}: {found or 'no objects'}")
        if args.draw_dir:
            target = Path(args.draw_dir) / f"{Path(path).stem}.png"
            draw_detections(path, result, path=target)
    if args.draw_dir:
        print(f"drawings in {args.draw_dir}")
    return 0


def _export(args: argparse.Namespace) -> int:
    print(f"exported {_load(args.model).export(args.output, version=args.version)}")
    return 0


def register(tasks: argparse._SubParsersAction) -> None:
    """Add ``detect`` with its train / evaluate / predict / export actions."""
    detect = tasks.add_parser("detect", help="object detection (boxes + labels)")
    actions = detect.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser("train", help="train a detector and save it as .keras")
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument("--val-data", help="validation data (same forms as --data)")
    train.add_argument("--image-dir", help="image folder of a COCO file (default: next to it)")
    train.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    train.add_argument("--classes", help="comma-separated class names (default: from the data)")
    train.add_argument(
        "--image-size", type=int, default=128, help="square model input, multiple of 32"
    )
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--learning-rate", type=float, default=2e-3)
    train.add_argument("--box-loss", choices=["giou", "smooth_l1"], default="giou")
    train.add_argument(
        "--flip",
        choices=["none", "horizontal", "vertical", "horizontal_and_vertical"],
        default="horizontal",
    )
    train.add_argument("--patience", type=int, help="early stopping patience in epochs")
    train.add_argument(
        "--work-dir", help="checkpoint folder; an interrupted run resumes with --resume"
    )
    train.add_argument("--resume", action="store_true")
    train.add_argument("--strategy", default="auto", choices=["auto", "mirrored", "multi_worker"])
    train.add_argument("--output", required=True, help="where to save the .keras file")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    train.set_defaults(func=_train)

    evaluate = actions.add_parser("evaluate", help="COCO mAP, mAP@.5, mAP@.75, per-class AP")
    evaluate.add_argument("--model", required=True, help="a .keras file written by train")
    evaluate.add_argument("--data", required=True, help=DATA_HELP)
    evaluate.add_argument(
        "--part",
        choices=["train", "val"],
        default="val",
        help="VOC split list / built-in part to score",
    )
    evaluate.add_argument("--image-dir", help="image folder of a COCO file")
    evaluate.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    evaluate.set_defaults(func=_evaluate)

    predict = actions.add_parser("predict", help="boxes, labels and scores for image files")
    predict.add_argument("--model", required=True)
    predict.add_argument("--score-threshold", type=float, default=0.3)
    predict.add_argument("--draw-dir", help="write each image with its boxes drawn here (PNG)")
    predict.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP)")
    predict.set_defaults(func=_predict)

    export = actions.add_parser("export", help="write a TF Serving SavedModel version")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True, help="model base folder, e.g. models/cells")
    export.add_argument("--version", type=int, help="version number (default: next free)")
    export.set_defaults(func=_export)

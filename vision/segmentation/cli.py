"""``dlsuite vision segment train|evaluate|predict|export`` (added by ``vision.cli.register``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from common.task import load_task
from vision.segmentation.data import load_mask_folder, load_tfds_segmentation, make_shape_masks
from vision.segmentation.task import ARCHITECTURES, LOSSES, ImageSegmenter

DATA_HELP = (
    "a folder with images/ and masks/ sub-folders (masks: palette or index PNGs, same file "
    "names), 'builtin:shapes' or 'tfds:oxford_iiit_pet[:SPLIT]'"
)


def resolve_data(
    spec: str, part: str, data_dir: str | None = None, class_names: list[str] | None = None
) -> tuple[Any, list[str]]:
    """A data spec -> (data accepted by ImageSegmenter.fit/evaluate, class names).

    ``part`` is "train" or "val"; built-in shapes and mask folders use a fixed 80/20 split.
    """
    if spec == "builtin:shapes":
        data = make_shape_masks(400, 64, seed=0, max_objects=3, min_size=0.2, max_size=0.5)
    elif spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        return load_tfds_segmentation(
            name, split or ("test" if part == "val" else "train"), data_dir
        )
    else:
        folder = Path(spec)
        if not (folder / "images").is_dir() or not (folder / "masks").is_dir():
            raise ValueError(
                f"data {spec!r} is not a folder with images/ and masks/ nor a builtin:/tfds: name"
            )
        data = load_mask_folder(folder / "images", folder / "masks", class_names)
    if len(data) < 2:
        return data, data.class_names
    train, val = data.split(0.2, seed=0)
    return (train if part == "train" else val), data.class_names


def _load(path: str) -> ImageSegmenter:
    task = load_task(path)
    if not isinstance(task, ImageSegmenter):
        raise ValueError(f"{path} holds a {type(task).__name__}, not an ImageSegmenter")
    return task


def _train(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    classes = args.classes.split(",") if args.classes else None
    data, found = resolve_data(args.data, "train", args.data_dir, classes)
    val, _ = resolve_data(args.val_data or args.data, "val", args.data_dir, classes or found)
    task = ImageSegmenter(
        classes=classes or found,
        image_size=args.image_size,
        architecture=args.architecture,
        loss=args.loss,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
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
    report = task.evaluate(val)
    print(
        f"validation mean IoU {report['mean_iou']:.4f}, pixel accuracy {report['pixel_accuracy']:.4f}"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    task = _load(args.model)
    data, _ = resolve_data(args.data, args.part, args.data_dir, task.classes)
    report = task.evaluate(data)
    if not args.json:
        report.pop("confusion_matrix")
    print(json.dumps(report, indent=2))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from vision.draw import overlay_mask
    from vision.images import encode_png

    task = _load(args.model)
    for path, result in zip(args.images, task.predict(args.images), strict=True):
        mask = result["mask"]
        shares = {
            task.classes[i]: float((mask == i).mean())
            for i in range(task.num_classes)
            if (mask == i).any()
        }
        print(
            f"{path}: {mask.shape[0]}x{mask.shape[1]} "
            + ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
        )
        stem = Path(path).stem
        if args.mask_dir:
            Path(args.mask_dir).mkdir(parents=True, exist_ok=True)
            (Path(args.mask_dir) / f"{stem}.png").write_bytes(encode_png(mask.astype("uint8")))
        if args.overlay_dir:
            overlay_mask(path, mask, path=Path(args.overlay_dir) / f"{stem}.png")
    return 0


def _export(args: argparse.Namespace) -> int:
    print(f"exported {_load(args.model).export(args.output, version=args.version)}")
    return 0


def register(tasks: argparse._SubParsersAction) -> None:
    """Add ``segment`` with its train / evaluate / predict / export actions."""
    segment = tasks.add_parser("segment", help="semantic segmentation (a class per pixel)")
    actions = segment.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser("train", help="train a segmenter and save it as .keras")
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument("--val-data", help="validation data (default: 20%% held out of --data)")
    train.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    train.add_argument(
        "--classes", help="comma-separated class names, index order (default: from the data)"
    )
    train.add_argument("--image-size", type=int, default=128)
    train.add_argument("--architecture", choices=ARCHITECTURES, default="unet")
    train.add_argument("--loss", choices=LOSSES, default="cross_entropy")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--learning-rate", type=float, default=3e-3)
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

    evaluate = actions.add_parser(
        "evaluate", help="mean IoU, per-class IoU and Dice, pixel accuracy"
    )
    evaluate.add_argument("--model", required=True, help="a .keras file written by train")
    evaluate.add_argument("--data", required=True, help=DATA_HELP)
    evaluate.add_argument("--part", choices=["train", "val"], default="val")
    evaluate.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    evaluate.add_argument("--json", action="store_true", help="include the confusion matrix")
    evaluate.set_defaults(func=_evaluate)

    predict = actions.add_parser("predict", help="class masks for image files")
    predict.add_argument("--model", required=True)
    predict.add_argument("--mask-dir", help="write each mask as an index PNG here")
    predict.add_argument("--overlay-dir", help="write each image with its mask overlaid here")
    predict.add_argument("images", nargs="+", help="image files (JPEG, PNG, GIF, BMP)")
    predict.set_defaults(func=_predict)

    export = actions.add_parser("export", help="write a TF Serving SavedModel version")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True, help="model base folder, e.g. models/shapes")
    export.add_argument("--version", type=int, help="version number (default: next free)")
    export.set_defaults(func=_export)

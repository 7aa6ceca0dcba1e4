"""``dlsuite vision detect train|evaluate|predict|export`` (added by ``vision.cli.register``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import IMAGE_INPUTS, TaskCommands, TrainCommand, add_task_commands

TASK = "vision.detection:ObjectDetector"
FLIPS = ("horizontal", "vertical", "horizontal_and_vertical")
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
    data = cli.parse_data_spec(spec, ("shapes",))
    if data.kind == "builtin":
        from vision.detection.data import make_shape_scenes

        train, val = make_shape_scenes(
            400, 128, max_objects=3, min_size=0.2, max_size=0.5, seed=0
        ).split(0.2)
        return (train if part == "train" else val), train.class_names
    if data.kind == "tfds":
        from vision.detection.data import load_tfds_detection

        split = data.arg or ("validation" if part == "val" else "train")
        return load_tfds_detection(data.name, split, data_dir)
    path = data.path
    if path.suffix == ".json":
        from vision.detection.data import load_coco

        loaded = load_coco(path, image_dir, class_names)
        return loaded, loaded.class_names
    if path.is_dir():
        from vision.detection.data import load_voc

        has_split = (path / "ImageSets" / "Main" / f"{part}.txt").is_file()
        loaded = load_voc(path, part if has_split else None, class_names)
        return loaded, loaded.class_names
    raise cli.UsageError(
        f"data {spec!r} is not a COCO .json file, a VOC folder or a builtin:/tfds: name"
    )


def _train(args: argparse.Namespace) -> int:
    from vision.detection import ObjectDetector

    return cli.train_with_classes(
        args,
        ObjectDetector,
        lambda spec, part, names: resolve_data(spec, part, args.image_dir, args.data_dir, names),
        "validation mAP {mAP:.4f}, mAP@.5 {mAP_50:.4f}, mAP@.75 {mAP_75:.4f}",
        render_boxes,
    )


def render_boxes(task: Any) -> cli.RenderFn:
    """``--log-dir`` pictures: each image with its predicted boxes, labels and a legend."""

    def draw(item: Any, result: dict[str, Any]) -> bytes:
        from vision.draw import draw_detections

        return draw_detections(item, result, class_names=task.classes)

    return cli.render_each(task, draw)


def _image_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--image-dir", help="image folder of a COCO file (default: next to it)")


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    data, _ = resolve_data(args.data, args.part, args.image_dir, args.data_dir, task.classes)
    return data


def _predict(task: Any, inputs: list[Any], args: argparse.Namespace) -> list[Any]:
    return task.predict(inputs, score_threshold=args.score_threshold)


def _describe(path: str, result: dict[str, Any]) -> str:
    found = ", ".join(
        f"{label} {score:.2f} [{', '.join(f'{v:.0f}' for v in box)}]"
        for label, score, box in zip(
            result["labels"], result["scores"], result["boxes"], strict=True
        )
    )
    return f"{path}: {found or 'no objects'}"


def _draw(args: argparse.Namespace, task: Any, inputs: list[Any], results: list[Any]) -> None:
    if not args.draw_dir:
        return
    from vision.draw import draw_detections

    for path, result in zip(inputs, results, strict=True):
        draw_detections(path, result, path=Path(args.draw_dir) / f"{Path(path).stem}.png")
    print(f"drawings in {args.draw_dir}")


def _predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score-threshold", type=float, default=0.3, help="lowest score to report")
    parser.add_argument("--draw-dir", help="write each image with its boxes drawn here (PNG)")


DETECT = TaskCommands(
    "detect",
    "object detection (boxes + labels)",
    TASK,
    noun="detector",
    train=TrainCommand(
        _train,
        DATA_HELP,
        epochs=20,
        options=_image_dir,
        config_help={
            "classes": "class names (default: the data's)",
            "image_size": "square model input, multiple of 32",
            "flip": "flip augmentation",
        },
        choices={"box_loss": ("giou", "smooth_l1"), "flip": FLIPS},
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "COCO mAP, mAP@.5, mAP@.75, per-class AP",
        "details": (),
        "part_help": "VOC split list / built-in part to score",
        "options": _image_dir,
    },
    predict={
        "help": "boxes, labels and scores for image files",
        "describe": _describe,
        **IMAGE_INPUTS,
        "options": _predict_options,
        "predict": _predict,
        "after": _draw,
    },
    export={"example": "models/cells"},
)


def register(tasks: argparse._SubParsersAction) -> None:
    """Add ``detect`` with its train / evaluate / predict / export actions."""
    add_task_commands(tasks, DETECT)

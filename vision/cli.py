"""``dlsuite vision classify|detect|segment train|evaluate|predict|export`` (an entry point).

Built on ``common.task_cli``: train options come from each task's config dataclass; TensorFlow
and the task modules are imported only when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import IMAGE_INPUTS, TaskCommands, TrainCommand, add_task_commands
from vision.detection import cli as detection_cli
from vision.generation import cli as generation_cli
from vision.segmentation import cli as segmentation_cli

SUMMARY = "image classification, object detection, segmentation, generation"
TASK = "vision.classification:ImageClassifier"
BUILTINS = ("digits", "shapes")
DATA_HELP = (
    "an image folder (one sub-folder per class), 'builtin:digits', 'builtin:shapes' or "
    "'tfds:NAME[:SPLIT]'"
)


def resolve_data(
    spec: str,
    image_size: int,
    part: str,
    data_dir: str | None = None,
    class_names: list[str] | None = None,
) -> tuple[Any, list[str]]:
    """A data spec -> (data accepted by ImageClassifier.fit/evaluate, class names).

    ``part`` is "train", "val" or "all"; built-in sets use a fixed stratified 80/20 split. A
    folder is read once: for "train" the loaded dataset is returned (fit does not read it
    again); otherwise the folder path (evaluate reads it with the model's classes).
    """
    data = cli.parse_data_spec(spec, BUILTINS)
    if data.kind == "builtin":
        from common.data import train_val_split
        from vision.data import load_digits, make_shapes

        arrays = {"digits": load_digits, "shapes": make_shapes}[data.name]()
        if part == "all":
            return (arrays.images, arrays.labels), arrays.class_names
        train, val = train_val_split(arrays.images, arrays.labels, 0.2, seed=0)
        return (train if part == "train" else val), arrays.class_names
    if data.kind == "tfds":
        from vision.data import load_tfds_images

        split = data.arg or ("test" if part == "val" else "train")
        return load_tfds_images(data.name, split=split, data_dir=data_dir)
    if not data.path.is_dir():
        raise cli.UsageError(
            f"data {spec!r} is neither a folder nor a builtin:/tfds: name ({DATA_HELP})"
        )
    if part != "train":
        return str(data.path), list(class_names or [])
    from vision.data import load_image_folder

    return load_image_folder(data.path, image_size, class_names)


def _train(args: argparse.Namespace) -> int:
    from vision.classification import ImageClassifier

    size = cli.config_value(args, ImageClassifier.config_class, "image_size")
    return cli.train_with_classes(
        args,
        ImageClassifier,
        lambda spec, part, names: resolve_data(spec, size, part, args.data_dir, names),
        "validation accuracy {accuracy:.4f}, macro-F1 {macro_f1:.4f}",
        render_labels,
    )


def render_labels(task: Any) -> cli.RenderFn:
    """``--log-dir`` pictures: each image with the predicted label and score below it."""

    def draw(item: Any, result: dict[str, Any]) -> Any:
        import numpy as np

        from common.plots import caption_images
        from vision.images import as_image_array

        image = as_image_array(item)[..., :3]
        if np.issubdtype(image.dtype, np.floating) and image.size and image.max() > 1.0:
            image = np.clip(image, 0, 255).round().astype(np.uint8)  # folders: [0, 255]
        caption = f"{result['label']} {result['score']:.2f}"
        return caption_images(image[None], [caption])[0]

    return cli.render_each(task, draw)


def _no_flip(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-flip",
        dest="flip",
        action="store_const",
        const=cli.NONE,
        default=argparse.SUPPRESS,
        help="same as --flip none (digits, text)",
    )


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    data, _ = resolve_data(args.data, task.config.image_size, args.part, args.data_dir)
    return data


def _predict(task: Any, inputs: list[Any], args: argparse.Namespace) -> list[Any]:
    return task.predict(inputs, top_k=args.top_k)


def _describe(path: str, result: dict[str, Any]) -> str:
    ranked = ", ".join(f"{r['label']} {r['score']:.3f}" for r in result["top_k"])
    return f"{path}: {ranked}"


CLASSIFY = TaskCommands(
    "classify",
    "image classification",
    TASK,
    noun="classifier",
    train=TrainCommand(
        _train,
        DATA_HELP,
        config_help={
            "classes": "class names (default: the data's)",
            "image_size": "square model input in pixels",
            "augment": "random flips, rotations, zooms, shifts and contrast while training",
            "flip": "flip augmentation: horizontal, vertical, horizontal_and_vertical or none",
        },
        choices={"backbone": "vision.classification:BACKBONES"},
        options=_no_flip,
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "accuracy, per-class report, confusion matrix",
        "parts": ("val", "all"),
        "part_help": "for builtin: data, the validation part or everything",
    },
    predict={
        "help": "top-k labels for image files",
        "describe": _describe,
        **IMAGE_INPUTS,
        "options": lambda p: p.add_argument(
            "--top-k", type=int, default=3, help="labels to show per image"
        ),
        "predict": _predict,
    },
    export={"example": "models/digits"},
)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``vision`` with its ``classify``, ``detect`` and ``segment`` sub-commands."""
    _, tasks = cli.add_group(commands, "vision", SUMMARY, dest="vision_task")
    add_task_commands(tasks, CLASSIFY)
    detection_cli.register(tasks)
    segmentation_cli.register(tasks)
    generation_cli.register(tasks)

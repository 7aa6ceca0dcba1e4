"""``dlsuite vision classify|detect|segment train|evaluate|predict|export`` (an entry point).

Built on ``common.task_cli``: train options come from each task's config dataclass; TensorFlow
and the task modules are imported only when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_commands import add_evaluate_command, add_export_command, add_predict_command
from vision.detection import cli as detection_cli
from vision.segmentation import cli as segmentation_cli

SUMMARY = "image classification, object detection, segmentation"
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

    output = cli.start_training(args)
    config = ImageClassifier.config_class
    image_size = cli.config_value(args, config, "image_size")
    classes = args.classes or None
    data, found = resolve_data(args.data, image_size, "train", args.data_dir, classes)
    val_spec = cli.validation_spec(args)
    val = None
    if val_spec:
        val, _ = resolve_data(val_spec, image_size, "val", args.data_dir, classes or found)
    options = cli.config_options(args, config)
    options["classes"] = classes or found
    task = ImageClassifier(**options)
    cli.fit(task, args, data, val, render=render_labels(task))
    cli.save(task, output)
    if val is not None:
        report = task.evaluate(val)
        print(f"validation accuracy {report['accuracy']:.4f}, macro-F1 {report['macro_f1']:.4f}")
    return 0


def render_labels(task: Any) -> cli.RenderFn:
    """``--log-dir`` pictures: each image with the predicted label and score below it."""

    def render(inputs: list[Any]) -> list[Any]:
        import numpy as np

        from common.plots import caption_images
        from vision.images import as_image_array

        pictures = []
        for item, result in zip(inputs, task.predict(inputs), strict=True):
            image = as_image_array(item)[..., :3]
            if np.issubdtype(image.dtype, np.floating) and image.size and image.max() > 1.0:
                image = np.clip(image, 0, 255).round().astype(np.uint8)  # folders: [0, 255]
            caption = f"{result['label']} {result['score']:.2f}"
            pictures.append(caption_images(image[None], [caption])[0])
        return pictures

    return render


def _build_train(parser: argparse.ArgumentParser) -> None:
    from vision.classification import BACKBONES, ImageClassifier

    cli.add_train_options(parser, DATA_HELP, epochs=10)
    cli.add_config_options(
        parser,
        ImageClassifier.config_class,
        help={
            "classes": "class names (default: the data's)",
            "image_size": "square model input in pixels",
            "augment": "random flips, rotations, zooms, shifts and contrast while training",
            "flip": "flip augmentation: horizontal, vertical, horizontal_and_vertical or none",
        },
        choices={"backbone": BACKBONES},
    )
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


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``vision`` with its ``classify``, ``detect`` and ``segment`` sub-commands."""
    _, tasks = cli.add_group(commands, "vision", SUMMARY, dest="vision_task")
    _, actions = cli.add_group(tasks, "classify", "image classification", dest="action")
    actions.add_parser(
        "train",
        help="train a classifier and save it as .keras",
        description="train a classifier and save it as .keras",
        builder=_build_train,
    ).set_defaults(func=_train)
    add_evaluate_command(
        actions,
        TASK,
        data_help=DATA_HELP,
        resolve=_evaluate_data,
        help="accuracy, per-class report, confusion matrix",
        parts=("val", "all"),
        part_help="for builtin: data, the validation part or everything",
    )
    add_predict_command(
        actions,
        TASK,
        help="top-k labels for image files",
        describe=_describe,
        inputs_help="image files (JPEG, PNG, GIF, BMP)",
        input_key="image",
        options=lambda p: p.add_argument(
            "--top-k", type=int, default=3, help="labels to show per image"
        ),
        predict=_predict,
    )
    add_export_command(actions, TASK, example="models/digits")
    detection_cli.register(tasks)
    segmentation_cli.register(tasks)

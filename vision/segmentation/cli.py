"""``dlsuite vision segment train|evaluate|predict|export`` (added by ``vision.cli.register``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import IMAGE_INPUTS, TaskCommands, TrainCommand, add_task_commands

TASK = "vision.segmentation.task:ImageSegmenter"
FLIPS = ("horizontal", "vertical", "horizontal_and_vertical")
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
    parsed = cli.parse_data_spec(spec, ("shapes",))
    if parsed.kind == "builtin":
        from vision.segmentation.data import make_shape_masks

        data = make_shape_masks(400, 64, seed=0, max_objects=3, min_size=0.2, max_size=0.5)
    elif parsed.kind == "tfds":
        from vision.segmentation.data import load_tfds_segmentation

        split = parsed.arg or ("test" if part == "val" else "train")
        return load_tfds_segmentation(parsed.name, split, data_dir)
    else:
        folder = parsed.path
        if not (folder / "images").is_dir() or not (folder / "masks").is_dir():
            raise cli.UsageError(
                f"data {spec!r} is not a folder with images/ and masks/ nor a builtin:/tfds: name"
            )
        from vision.segmentation.data import load_mask_folder

        data = load_mask_folder(folder / "images", folder / "masks", class_names)
    if len(data) < 2:
        return data, data.class_names
    train, val = data.split(0.2, seed=0)
    return (train if part == "train" else val), data.class_names


def _train(args: argparse.Namespace) -> int:
    from vision.segmentation.task import ImageSegmenter

    return cli.train_with_classes(
        args,
        ImageSegmenter,
        lambda spec, part, names: resolve_data(spec, part, args.data_dir, names),
        "validation mean IoU {mean_iou:.4f}, pixel accuracy {pixel_accuracy:.4f}",
        render_masks,
        val_spec=args.val_data or args.data,  # default: 20% held out of --data
    )


def render_masks(task: Any) -> cli.RenderFn:
    """``--log-dir`` pictures: each image with its predicted mask overlaid and a legend."""

    def draw(item: Any, result: dict[str, Any]) -> bytes:
        from vision.draw import overlay_mask

        return overlay_mask(item, result["mask"], class_names=task.classes)

    return cli.render_each(task, draw)


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    data, _ = resolve_data(args.data, args.part, args.data_dir, task.classes)
    return data


def _class_shares(task: Any, mask: Any) -> dict[str, float]:
    return {
        task.classes[i]: float((mask == i).mean())
        for i in range(task.num_classes)
        if (mask == i).any()
    }


def _predict(task: Any, inputs: list[Any], args: argparse.Namespace) -> list[Any]:
    results = task.predict(inputs)
    for result in results:  # the readable line needs class names: keep them with the result
        result.setdefault("class_shares", _class_shares(task, result["mask"]))
    return results


def _describe(path: str, result: dict[str, Any]) -> str:
    mask = result["mask"]
    shares = ", ".join(f"{k} {v:.1%}" for k, v in result["class_shares"].items())
    return f"{path}: {mask.shape[0]}x{mask.shape[1]} {shares}"


def _write(args: argparse.Namespace, task: Any, inputs: list[Any], results: list[Any]) -> None:
    from vision.draw import overlay_mask
    from vision.images import encode_png

    for path, result in zip(inputs, results, strict=True):
        mask, stem = result["mask"], Path(path).stem
        if args.mask_dir:
            Path(args.mask_dir).mkdir(parents=True, exist_ok=True)
            (Path(args.mask_dir) / f"{stem}.png").write_bytes(encode_png(mask.astype("uint8")))
        if args.overlay_dir:
            overlay_mask(path, mask, path=Path(args.overlay_dir) / f"{stem}.png")


def _predict_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mask-dir", help="write each mask as an index PNG here")
    parser.add_argument("--overlay-dir", help="write each image with its mask overlaid here")


SEGMENT = TaskCommands(
    "segment",
    "semantic segmentation (a class per pixel)",
    TASK,
    noun="segmenter",
    train=TrainCommand(
        _train,
        DATA_HELP,
        epochs=20,
        val_help="validation data (default: 20%% held out of --data)",
        config_help={
            "classes": "class names in index order (default: the data's)",
            "flip": "flip augmentation",
        },
        choices={
            "architecture": "vision.segmentation.task:ARCHITECTURES",
            "loss": "vision.segmentation.task:LOSSES",
            "flip": FLIPS,
        },
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "mean IoU, per-class IoU and Dice, pixel accuracy",
        "details": ("confusion_matrix",),
    },
    predict={
        "help": "class masks for image files",
        "describe": _describe,
        **IMAGE_INPUTS,
        "options": _predict_options,
        "predict": _predict,
        "after": _write,
    },
    export={"example": "models/shapes"},
)


def register(tasks: argparse._SubParsersAction) -> None:
    """Add ``segment`` with its train / evaluate / predict / export actions."""
    add_task_commands(tasks, SEGMENT)

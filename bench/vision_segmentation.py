"""Semantic-segmentation benchmark: mIoU on synthetic shapes and DRIVE retinal vessels, plus speed.

Quality: a fixed-seed synthetic shapes test set (train seed 1, test seed 2; background, circle,
square, triangle) and, when ``<drive>`` exists, the real DRIVE training images (21-36 train,
37-40 validation, vessel vs background, scored on the full image at its own size). Reported:
mean IoU, per-class IoU, pixel accuracy, mean Dice. Each training has a wall-clock budget.

Speed, as ratios measured in the same process: training images/s; batch-1 latency (p50) of the
exported SavedModel on PNG bytes and of ``task.predict`` over the raw ``keras.Model.predict``
call on one image; exported images/s at batch 8 over ``model.predict`` images/s.

    python -m bench.vision_segmentation --drive ../shared/data/drive
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from bench._harness import (
    DATA_ROOT,
    RESULTS_DIR,
    add_budget_arguments,
    bench_parser,
    export_speed_cells,
    fit_within_budget,
    image_export_speed,
    per_class_line,
    write_rows,
)
from vision import ImageSegmenter, SegmentationSet, make_shape_masks

DEFAULT_DRIVE = DATA_ROOT / "drive"
RESULTS_PATH = RESULTS_DIR / "vision_segmentation.json"

SETTINGS: dict[str, dict[str, Any]] = {
    "shapes": {
        "epochs": 40, "budget_min": 6.0,
        "data": dict(count=600, image_size=128, max_objects=4, min_size=0.15, max_size=0.5),
        "config": dict(image_size=128, architecture="deeplabv3plus", widths=[16, 32, 48, 64],
                       aspp_filters=48, learning_rate=1e-2, batch_size=16),
    },
    "drive": {
        "epochs": 200, "budget_min": 6.0,
        "config": dict(image_size=384, architecture="unet", widths=[16, 32, 48, 64], dropout=0.1,
                       learning_rate=1e-2, batch_size=4, flip="horizontal_and_vertical"),
    },
}  # fmt: skip


def load_drive(folder: Path) -> tuple[SegmentationSet, SegmentationSet]:
    """DRIVE training split: images 21-36 for training, 37-40 for validation (vessel = class 1)."""
    from PIL import Image

    images, masks = [], []
    for number in range(21, 41):
        with Image.open(folder / "training" / "images" / f"{number}_training.tif") as picture:
            images.append(np.asarray(picture.convert("RGB")))
        with Image.open(folder / "training" / "1st_manual" / f"{number}_manual1.gif") as picture:
            masks.append((np.asarray(picture.convert("L")) > 127).astype(np.int32))
    data = SegmentationSet(images, masks, ["background", "vessel"])
    return data.subset(range(16)), data.subset(range(16, 20))


def run(
    name: str,
    train: SegmentationSet,
    test: SegmentationSet,
    settings: dict[str, Any],
    calls: int,
    epochs: int | None,
    budget_min: float | None,
) -> dict[str, Any]:
    task = ImageSegmenter(classes=train.class_names, **settings["config"])
    minutes = budget_min or settings["budget_min"]
    training = fit_within_budget(task, train, epochs or settings["epochs"], minutes)
    report = task.evaluate(test)
    row = {
        "dataset": name,
        "train_images": len(train),
        "test_images": len(test),
        **training,
        "mean_iou": report["mean_iou"],
        "pixel_accuracy": report["pixel_accuracy"],
        "mean_dice": report["mean_dice"],
        "per_class_iou": {k: v["iou"] for k, v in report["per_class"].items()},
        "config": settings["config"],
    }
    row.update(image_export_speed(task, list(test.images), calls, batch_size=8))
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'dataset':<7} {'epochs':>6} {'train s':>8} {'train img/s':>11} {'mIoU':>6} "
        f"{'pix acc':>7} {'Dice':>6} {'export b1 / keras b1':>22} {'export img/s (b8) / keras':>26}"
    ]
    for r in rows:
        lines.append(
            f"{r['dataset']:<7} {r['epochs']:>6} {r['train_s']:>8.0f} "
            f"{r['train_images_per_s']:>11.1f} {r['mean_iou']:>6.3f} {r['pixel_accuracy']:>7.3f} "
            f"{r['mean_dice']:>6.3f} {export_speed_cells(r)}"
        )
        lines.append(" " * 8 + per_class_line("per-class IoU", r["per_class_iou"]))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__)
    parser.add_argument("--drive", default=str(DEFAULT_DRIVE), help="DRIVE folder (with training/)")
    parser.add_argument("--datasets", default="shapes,drive", help="comma-separated: shapes, drive")
    add_budget_arguments(parser, RESULTS_PATH)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    rows = []
    if "shapes" in names:
        s = SETTINGS["shapes"]["data"]
        train = make_shape_masks(seed=1, **s)
        test = make_shape_masks(**{**s, "count": 200}, seed=2)
        rows.append(
            run("shapes", train, test, SETTINGS["shapes"], args.calls, args.epochs, args.budget_min)
        )
    if "drive" in names:
        folder = Path(args.drive)
        if (folder / "training" / "images").is_dir():
            train, test = load_drive(folder)
            rows.append(
                run(
                    "drive",
                    train,
                    test,
                    SETTINGS["drive"],
                    args.calls,
                    args.epochs,
                    args.budget_min,
                )
            )
        else:
            print(f"DRIVE folder not found at {folder}; skipped")
    print(format_table(rows))
    return write_rows(args.output, "vision_segmentation", {"shapes_mean_iou": 0.90}, rows)


if __name__ == "__main__":
    main()

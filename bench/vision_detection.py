"""Object-detection benchmark: COCO mAP on synthetic shapes and on BCCD blood cells, plus speed.

Quality (pycocotools COCOeval): a fixed-seed synthetic shapes test set (train seed 1, test seed
2), and the real BCCD set in ``<data>`` (Pascal VOC; trained on ``ImageSets/Main/train.txt``,
scored on ``val.txt``) when the folder exists. Each training has a wall-clock budget.

Speed, as ratios measured in the same process on the trained BCCD (or shapes) detector:
training images/s; batch-1 latency (p50) of the exported SavedModel on JPEG/PNG bytes and of
``task.predict`` over the raw ``keras.Model.predict`` call (no decode, no NMS) on one image;
exported-model images/s at batch 16 over ``model.predict`` images/s.

``mAP_export_raw_bytes`` / ``mAP_50_export_raw_bytes``: the SavedModel's ``serving_default`` on
the test images' encoded bytes (the JPEG files; PNG for in-memory arrays), boxes scaled back to
each image's pixels, scored with the same COCOeval, beside the Python ``evaluate`` numbers. Each
row records the task's full ``config`` and the bench arguments; ``--rerun RESULTS.json DATASET``
trains and scores that row again.

    python -m bench.vision_detection --data ../shared/data/bccd
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import tensorflow as tf

from bench._harness import (
    DATA_ROOT,
    RESULTS_DIR,
    add_budget_arguments,
    add_rerun_argument,
    bench_parser,
    export_speed_cells,
    fit_within_budget,
    image_export_speed,
    per_class_line,
    recorded_row,
    write_rows,
)
from vision import ObjectDetector, load_voc, make_shape_scenes
from vision.detection.task import coco_metrics
from vision.images import encode_png

DEFAULT_DATA = DATA_ROOT / "bccd"
RESULTS_PATH = RESULTS_DIR / "vision_detection.json"
BCCD_CLASSES = ["Platelets", "RBC", "WBC"]

SETTINGS: dict[str, dict[str, Any]] = {
    "shapes": {
        "epochs": 40, "budget_min": 8.0,
        "data": dict(count=600, image_size=128, max_objects=4, min_size=0.15, max_size=0.5),
        "config": dict(image_size=128, widths=[16, 32, 48, 64, 96], fpn_width=48, head_convs=2,
                       learning_rate=5e-3, batch_size=16, flip="horizontal"),
    },
    "bccd": {
        "epochs": 40, "budget_min": 25.0,
        "config": dict(image_size=256, widths=[16, 24, 48, 64, 96], fpn_width=48, head_convs=2,
                       learning_rate=4e-3, batch_size=8, flip="horizontal_and_vertical",
                       max_detections=100),
    },
}  # fmt: skip


def run(
    name: str,
    train: Any,
    test: Any,
    classes: list[str],
    settings: dict[str, Any],
    calls: int,
    epochs: int | None,
    budget_min: float | None,
) -> dict[str, Any]:
    task = ObjectDetector(**{"classes": classes, **settings["config"]})
    minutes = budget_min or settings["budget_min"]
    epochs = epochs or settings["epochs"]
    training = fit_within_budget(task, train, epochs, minutes)
    report = task.evaluate(test)
    served = export_map(task, test, classes)
    images = [
        image if not isinstance(image, str) else tf.io.decode_image(tf.io.read_file(image)).numpy()
        for image in test.images[:16]
    ]
    row = {
        "dataset": name,
        "train_images": len(train),
        "test_images": len(test),
        **training,
        "mAP": report["mAP"],
        "mAP_50": report["mAP_50"],
        "mAP_75": report["mAP_75"],
        "mAP_export_raw_bytes": served["mAP"],
        "mAP_50_export_raw_bytes": served["mAP_50"],
        "per_class_AP_50": {k: v["AP_50"] for k, v in report["per_class"].items()},
        "options": settings["config"],
        "config": task.config.to_dict(),
        "bench_args": {"epochs": epochs, "budget_min": minutes},
    }
    row.update(image_export_speed(task, images, calls, batch_size=16))
    return row


def export_map(task: ObjectDetector, test: Any, classes: list[str]) -> dict[str, Any]:
    """COCO mAP of the SavedModel on the test images' encoded bytes (what a client sends)."""
    raw = [
        Path(image).read_bytes() if isinstance(image, (str, Path)) else encode_png(image)
        for image in test.images
    ]
    with tempfile.TemporaryDirectory() as tmp:
        served = tf.saved_model.load(str(task.export(Path(tmp) / "det"))).signatures[
            "serving_default"
        ]
        outputs = []
        for i in range(0, len(raw), 8):
            out = served(image_bytes=tf.constant(raw[i : i + 8]))
            outputs += [
                {k: v[j].numpy() for k, v in out.items()} for j in range(len(raw[i : i + 8]))
            ]
    images_info: list[dict] = []
    annotations: list[dict] = []
    detections: list[list[float]] = []
    for index, (data, out) in enumerate(zip(raw, outputs, strict=True)):
        height, width = tf.io.decode_image(data, expand_animations=False).shape[:2]
        image_id = index + 1
        images_info.append({"id": image_id, "height": int(height), "width": int(width)})
        for box, label in zip(test.boxes[index], test.labels[index], strict=True):
            y0, x0, y1, x1 = (float(v) for v in box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label) + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
        scale = [height, width, height, width]
        for k in range(int(out["num_detections"])):
            y0, x0, y1, x1 = (
                float(v) * s for v, s in zip(out["detection_boxes"][k], scale, strict=True)
            )
            detections.append(
                [image_id, x0, y0, x1 - x0, y1 - y0, float(out["detection_scores"][k]),
                 int(out["detection_classes"][k])]
            )  # fmt: skip
    return coco_metrics(images_info, annotations, detections, classes)


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'dataset':<8} {'epochs':>6} {'train s':>8} {'train img/s':>11} {'mAP':>6} {'mAP50':>6} "
        f"{'mAP75':>6} {'export b1 / keras b1':>20} {'export img/s (b16) / keras':>27}",
    ]
    for r in rows:
        lines.append(
            f"{r['dataset']:<8} {r['epochs']:>6} {r['train_s']:>8.0f} "
            f"{r['train_images_per_s']:>11.1f} {r['mAP']:>6.3f} {r['mAP_50']:>6.3f} "
            f"{r['mAP_75']:>6.3f} {export_speed_cells(r)}"
        )
        lines.append(" " * 9 + per_class_line("per-class AP50", r["per_class_AP_50"]))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="BCCD Pascal VOC folder")
    parser.add_argument("--datasets", default="shapes,bccd", help="comma-separated: shapes, bccd")
    add_budget_arguments(parser, RESULTS_PATH)
    add_rerun_argument(parser, "DATASET")
    args = parser.parse_args(argv)
    row = recorded_row(parser, args.rerun, "rows", "dataset", needs="bench_args")
    if row is not None:
        config = {k: v for k, v in row["config"].items() if k != "classes"}
        SETTINGS[row["dataset"]] = {**SETTINGS[row["dataset"]], "config": config}
        args.datasets = row["dataset"]
        args.epochs, args.budget_min = row["bench_args"]["epochs"], row["bench_args"]["budget_min"]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    rows = []
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if "shapes" in names:
        s = SETTINGS["shapes"]["data"]
        train = make_shape_scenes(seed=1, **s)
        test = make_shape_scenes(**{**s, "count": 200}, seed=2)
        rows.append(
            run(
                "shapes",
                train,
                test,
                train.class_names,
                SETTINGS["shapes"],
                args.calls,
                args.epochs,
                args.budget_min,
            )
        )
    if "bccd" in names:
        folder = Path(args.data)
        if (folder / "Annotations").is_dir():
            train = load_voc(folder, "train", class_names=BCCD_CLASSES)
            test = load_voc(folder, "val", class_names=BCCD_CLASSES)
            rows.append(
                run(
                    "bccd",
                    train,
                    test,
                    BCCD_CLASSES,
                    SETTINGS["bccd"],
                    args.calls,
                    args.epochs,
                    args.budget_min,
                )
            )
        else:
            print(f"BCCD folder not found at {folder}; skipped")
    print(format_table(rows))
    return write_rows(
        args.output, "vision_detection", {"shapes_mAP_50": 0.95, "bccd_mAP_50": 0.80}, rows
    )


if __name__ == "__main__":
    main()

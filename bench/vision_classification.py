"""Image-classification benchmark: quality on three real datasets, speed as same-run ratios.

Quality: scikit-learn's digits (stratified 80/20 split, seed 0), the Fashion-MNIST subset in
``<data-root>/fashion_mnist`` (train 0-2999, validate 3000-3614) and blood-cell crops cut from
the VOC boxes of ``<data-root>/bccd`` (train / val ids from ``ImageSets/Main``): accuracy,
macro-F1, per-class recall and training wall-clock time.

Speed, as ratios measured in the same process: training examples/s and the FLOP/s that implies
(3x the forward FLOPs counted by the TF profiler) over the measured float32 ``tf.matmul`` peak;
batch-1 latency (p50/p99) and batch-64 throughput of the exported SavedModel on PNG bytes over
``model.predict`` and a direct model call on the same decoded images.

    python -m bench.vision_classification --datasets digits,fashion,bccd --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import vision
from common.data import train_val_split
from vision import images as images_lib
from vision.data import load_idx, parse_voc_annotation

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
RESULTS_PATH = REPO_ROOT / "bench" / "results" / "vision_classification.json"
DATASETS = ("digits", "fashion", "bccd")
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
BCCD_CLASSES = ["Platelets", "RBC", "WBC"]

# Tuned so each set reaches its target well inside 15 minutes of training on 2 CPU cores.
SETTINGS: dict[str, dict[str, Any]] = {
    "digits": {
        "epochs": 40,
        "config": dict(image_size=16, widths=[32, 64, 128], flip=None, rotation=0.05, zoom=0.1,
                       translation=0.1, contrast=0.0, learning_rate=3e-3, dropout=0.2),
    },
    "fashion": {
        "epochs": 30,
        "config": dict(image_size=28, widths=[32, 64, 128], flip="horizontal", rotation=0.0,
                       zoom=0.1, translation=0.08, contrast=0.0, learning_rate=4e-3, dropout=0.3,
                       weight_decay=0.05, batch_size=64),
    },
    "bccd": {
        "epochs": 15,
        "config": dict(image_size=32, widths=[32, 64, 128], flip="horizontal_and_vertical",
                       rotation=0.1, zoom=0.1, translation=0.05, contrast=0.1,
                       learning_rate=3e-3, dropout=0.2),
    },
}  # fmt: skip
QUICK = {"epochs": 1, "config": dict(widths=[16, 32])}  # width-8 convs crash oneDNN (see README)


@dataclass
class Split:
    """Train and validation arrays of one dataset plus notes about how they were built."""

    name: str
    classes: list[str]
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    notes: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- datasets
def load_digits_split() -> Split:
    """scikit-learn digits, stratified 80/20 split with seed 0."""
    digits = vision.load_digits()
    train, val = train_val_split(digits.images, digits.labels, val_fraction=0.2, seed=0)
    return Split(
        "digits", digits.class_names, train, val, {"source": "sklearn.datasets.load_digits"}
    )


def load_fashion_split(root: Path) -> Split:
    """Fashion-MNIST subset: images 0-2999 train, 3000-3614 validation (the data README's split)."""
    folder = root / "fashion_mnist"
    if not folder.is_dir():
        raise ValueError(f"Fashion-MNIST folder not found: {folder} (pass --data-root)")
    images, labels = load_idx(
        folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    )
    train = (images[:3000], labels[:3000])
    val = (images[3000:3615], labels[3000:3615])
    return Split("fashion", FASHION_CLASSES, train, val, {"source": str(folder)})


def _bccd_crops(root: Path, ids: list[str], size: int) -> tuple[np.ndarray, np.ndarray, int]:
    crops, labels, skipped = [], [], 0
    for image_id in ids:
        filename, objects = parse_voc_annotation(root / "Annotations" / f"{image_id}.xml")
        image = tf.io.decode_jpeg(
            tf.io.read_file(str(root / "JPEGImages" / (filename or f"{image_id}.jpg")))
        )
        height, width = int(image.shape[0]), int(image.shape[1])
        for obj in objects:
            if obj.name not in BCCD_CLASSES:
                raise ValueError(f"{image_id}: unknown cell class {obj.name!r}")
            x0, x1 = (int(round(min(max(v, 0.0), width))) for v in (obj.xmin, obj.xmax))
            y0, y1 = (int(round(min(max(v, 0.0), height))) for v in (obj.ymin, obj.ymax))
            if x1 <= x0 or y1 <= y0:
                skipped += 1
                continue
            crop = tf.image.resize(
                tf.cast(image[y0:y1, x0:x1], tf.float32), (size, size), antialias=True
            )
            crops.append(np.clip(np.round(crop.numpy()), 0, 255).astype(np.uint8))
            labels.append(BCCD_CLASSES.index(obj.name))
    return np.stack(crops), np.array(labels, np.int32), skipped


def load_bccd_split(root: Path, size: int) -> Split:
    """Blood-cell crops (RBC / WBC / Platelets) from the VOC boxes, split by ImageSets/Main ids."""
    folder = root / "bccd"
    if not (folder / "ImageSets" / "Main").is_dir():
        raise ValueError(f"BCCD VOC folder not found: {folder} (pass --data-root)")

    def ids(split: str) -> list[str]:
        text = (folder / "ImageSets" / "Main" / f"{split}.txt").read_text()
        return [line.strip() for line in text.splitlines() if line.strip()]

    x_train, y_train, skip_train = _bccd_crops(folder, ids("train"), size)
    x_val, y_val, skip_val = _bccd_crops(folder, ids("val"), size)
    counts = {
        split: {name: int(np.sum(y == i)) for i, name in enumerate(BCCD_CLASSES)}
        for split, y in (("train", y_train), ("val", y_val))
    }
    notes = {
        "source": str(folder),
        "skipped_zero_area_boxes": skip_train + skip_val,
        "class_counts": counts,
    }
    return Split("bccd", BCCD_CLASSES, (x_train, y_train), (x_val, y_val), notes)


# ---------------------------------------------------------------------- speed helpers
def matmul_peak_flops(sizes: tuple[int, ...] = (512, 1024, 2048), seconds: float = 3.0) -> float:
    """Best float32 ``tf.matmul`` FLOP/s over square products of several sizes (the machine's peak).

    Eager calls on fixed operands, timed one by one, for about ``seconds`` per size. On a shared
    machine the best short call is the one that ran while the cores were free, so many short
    calls estimate the idle peak far better than a few long ones.
    """
    best_rate = 0.0
    for n in sizes:
        a = tf.random.stateless_normal((n, n), seed=(1, 2))
        b = tf.random.stateless_normal((n, n), seed=(3, 4))
        tf.reduce_sum(tf.matmul(a, b)).numpy()  # warm up the kernel
        best, deadline, calls = float("inf"), time.perf_counter() + seconds, 0
        while calls < 3 or time.perf_counter() < deadline:
            start = time.perf_counter()
            tf.reduce_sum(tf.matmul(a, b)).numpy()
            best, calls = min(best, time.perf_counter() - start), calls + 1
        best_rate = max(best_rate, 2.0 * n**3 / best)
    return best_rate


def forward_flops(model: keras.Model, image_size: int) -> int:
    """Forward FLOPs for one image, counted by the TF profiler on the frozen inference graph."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(
        tf.TensorSpec([1, image_size, image_size, 3], tf.float32)
    )
    graph = convert_variables_to_constants_v2(concrete).graph
    options = (
        tf.compat.v1.profiler.ProfileOptionBuilder(
            tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        )
        .with_empty_output()
        .build()
    )
    profile = tf.compat.v1.profiler.profile(
        graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options
    )
    return int(profile.total_float_ops)


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def _time_calls(fn: Any, calls: int) -> list[float]:
    fn()  # warm up (tracing, first-call allocations)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def serving_speed(task: vision.ImageClassifier, images: np.ndarray, calls: int) -> dict[str, Any]:
    """Exported SavedModel on PNG bytes vs ``model.predict`` / direct call on the same pixels."""
    size = task.config.image_size
    pngs = [images_lib.encode_png(np.asarray(image)) for image in images[:64]]
    while len(pngs) < 64:
        pngs = (pngs * 2)[:64]
    batch_bytes = tf.constant(pngs)
    batch_pixels = tf.stack([images_lib.decode_to_model_input(tf.constant(p), size) for p in pngs])
    with tempfile.TemporaryDirectory() as tmp:
        version_dir = task.export(Path(tmp) / "model")
        serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        served = serve(image_bytes=batch_bytes)["probabilities"].numpy()
        direct = task.model(batch_pixels, training=False).numpy()
        one_bytes, one_pixels = batch_bytes[:1], batch_pixels[:1].numpy()
        latency = {
            "savedmodel_png": _percentiles(
                _time_calls(lambda: serve(image_bytes=one_bytes), calls)
            ),
            "model_predict": _percentiles(
                _time_calls(lambda: task.model.predict(one_pixels, verbose=0), calls)
            ),
            "model_call": _percentiles(
                _time_calls(lambda: task.model(one_pixels, training=False), calls)
            ),
        }
        rounds = max(3, calls // 10)
        pixels64 = batch_pixels.numpy()
        throughput = {
            "savedmodel_png": 64 / min(_time_calls(lambda: serve(image_bytes=batch_bytes), rounds)),
            "model_predict": 64
            / min(
                _time_calls(lambda: task.model.predict(pixels64, batch_size=64, verbose=0), rounds)
            ),
        }
    base = latency["model_predict"]["p50_ms"]
    return {
        "batch1_latency": latency,
        "batch1_p50_ratio_savedmodel_over_predict": latency["savedmodel_png"]["p50_ms"] / base,
        "batch64_images_per_sec": throughput,
        "batch64_ratio_savedmodel_over_predict": throughput["savedmodel_png"]
        / throughput["model_predict"],
        "max_abs_prob_diff_savedmodel_vs_model": float(np.max(np.abs(served - direct))),
    }


class TimeBudget(keras.callbacks.Callback):
    """Stop training once it has used ``seconds`` of 2-core time (process CPU seconds / ``cores``).

    CPU time rather than wall-clock, so the budget means the same on an idle machine and on a
    shared, oversubscribed one (where wall-clock mostly measures other people's jobs).
    """

    def __init__(self, seconds: float, cores: int = 2):
        super().__init__()
        self.seconds, self.cores, self.start, self.hit = seconds, cores, 0.0, False

    def on_train_begin(self, logs=None):
        self.start = time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        if (time.process_time() - self.start) / self.cores > self.seconds:
            self.hit, self.model.stop_training = True, True


# ---------------------------------------------------------------------- one dataset
def run_dataset(
    split: Split, settings: dict[str, Any], peak: float, budget_s: float, calls: int
) -> dict[str, Any]:
    """Train, evaluate and time one dataset; returns the JSON-ready result row."""
    config = dict(settings["config"])
    epochs = int(settings["epochs"])
    task = vision.ImageClassifier(classes=split.classes, **config)
    budget = TimeBudget(budget_s)
    print(
        f"[{split.name}] train {len(split.train[1])} / val {len(split.val[1])}, {epochs} epochs",
        flush=True,
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    task.fit(split.train, validation_data=split.val, epochs=epochs, callbacks=[budget], verbose=2)
    history = task.history  # per-epoch logs as a dict of lists
    train_seconds = time.perf_counter() - start
    train_cpu_seconds = time.process_time() - cpu_start
    report = task.evaluate(split.val)
    epochs_run = len(history["loss"])
    steady = history.get("examples_per_sec", [])[1:] or history.get("examples_per_sec", [0.0])
    examples_per_sec = float(statistics.median(steady))
    flops = forward_flops(task.model, task.config.image_size)
    train_flops_per_sec = 3.0 * flops * examples_per_sec
    return {
        "dataset": split.name,
        "config": task.config.to_dict(),
        "epochs": epochs,
        "epochs_run": epochs_run,
        "stopped_by_time_budget": budget.hit,
        "num_train": int(len(split.train[1])),
        "num_val": int(len(split.val[1])),
        "notes": split.notes,
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "train_2core_seconds": train_cpu_seconds / 2,
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "per_class_recall": {name: row["recall"] for name, row in report["per_class"].items()},
        "confusion_matrix": report["confusion_matrix"],
        "val_accuracy_per_epoch": history.get("val_accuracy", []),
        "train_examples_per_sec": examples_per_sec,
        "train_examples_per_sec_end_to_end": epochs_run * len(split.train[1]) / train_seconds,
        "forward_flops_per_image": flops,
        "train_flops_per_sec": train_flops_per_sec,
        "train_flops_over_matmul_peak": train_flops_per_sec / peak,
        "serving": serving_speed(task, split.val[0], calls),
    }


# ---------------------------------------------------------------------- report
TARGETS = {"digits": 0.99, "fashion": 0.87, "bccd": 0.95}


def format_table(rows: list[dict[str, Any]], peak: float) -> str:
    header = (
        f"{'dataset':8} {'acc':>6} {'target':>6} {'macroF1':>7} {'wall s':>7} {'2core s':>7} "
        f"{'ex/s':>7} {'FLOP/peak':>9} {'SM p50':>7} {'SM p99':>7} {'pred p50':>8} {'SM/pred':>7} "
        f"{'b64 SM/pred':>11}"
    )
    lines = [
        f"float32 tf.matmul peak: {peak / 1e9:.1f} GFLOP/s; latencies in ms; SM = exported "
        "SavedModel on PNG bytes, pred = model.predict; 2core s = training CPU seconds / 2",
        header,
        "-" * len(header),
    ]
    for r in rows:
        s = r["serving"]
        lat = s["batch1_latency"]
        lines.append(
            f"{r['dataset']:8} {r['accuracy']:6.4f} {TARGETS[r['dataset']]:6.2f} "
            f"{r['macro_f1']:7.4f} {r['train_seconds']:7.0f} {r['train_2core_seconds']:7.0f} "
            f"{r['train_examples_per_sec']:7.1f} {r['train_flops_over_matmul_peak']:9.3f} "
            f"{lat['savedmodel_png']['p50_ms']:7.2f} {lat['savedmodel_png']['p99_ms']:7.2f} "
            f"{lat['model_predict']['p50_ms']:8.2f} "
            f"{s['batch1_p50_ratio_savedmodel_over_predict']:7.3f} "
            f"{s['batch64_ratio_savedmodel_over_predict']:11.3f}"
        )
    for r in rows:
        recall = ", ".join(f"{k}={v:.3f}" for k, v in r["per_class_recall"].items())
        lines.append(f"{r['dataset']} per-class recall: {recall}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.vision_classification", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help="comma-separated subset of digits,fashion,bccd",
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=DEFAULT_DATA_ROOT,
        help="folder holding fashion_mnist/ and bccd/",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny model, one epoch: a smoke run of the whole benchmark",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=15.0,
        help="training limit per dataset, in 2-core minutes (process CPU time / 2)",
    )
    parser.add_argument(
        "--latency-calls", type=int, default=100, help="timed batch-1 calls per path"
    )
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="JSON results file")
    args = parser.parse_args(argv)
    args.datasets = [name.strip() for name in args.datasets.split(",") if name.strip()]
    unknown = sorted(set(args.datasets) - set(DATASETS))
    if unknown or not args.datasets:
        parser.error(f"unknown dataset(s) {unknown}; choose from {', '.join(DATASETS)}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    settings = {
        name: dict(SETTINGS[name], config=dict(SETTINGS[name]["config"])) for name in DATASETS
    }
    if args.quick:
        for value in settings.values():
            value["epochs"] = QUICK["epochs"]
            value["config"].update(QUICK["config"])
        args.latency_calls = min(args.latency_calls, 20)
        if args.output == RESULTS_PATH:  # a smoke run never overwrites the real results
            args.output = RESULTS_PATH.with_name("vision_classification.quick.json")
    peaks = [matmul_peak_flops()]
    print(f"float32 matmul peak: {peaks[0] / 1e9:.1f} GFLOP/s", flush=True)
    rows = []
    for name in args.datasets:
        if name == "digits":
            split = load_digits_split()
        elif name == "fashion":
            split = load_fashion_split(args.data_root)
        else:
            split = load_bccd_split(args.data_root, settings["bccd"]["config"]["image_size"])
        rows.append(
            run_dataset(
                split, settings[name], peaks[0], args.budget_minutes * 60, args.latency_calls
            )
        )
        peaks.append(matmul_peak_flops())
    # The machine is shared: take the best of the peaks measured before and after every dataset
    # and express every ratio against it, so load during one measurement cannot inflate ratios.
    peak = max(peaks)
    for row in rows:
        row["train_flops_over_matmul_peak"] = row["train_flops_per_sec"] / peak
    table = format_table(rows, peak)
    print(table)
    results = {
        "benchmark": "vision_classification",
        "quick": args.quick,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "tensorflow": tf.__version__, "keras": keras.__version__,
                    "note": "shared 2-core machine; timings taken under load"},
        "matmul_peak_flops_per_sec": peak,
        "matmul_peak_measurements": peaks,
        "targets": TARGETS,
        "results": rows,
        "table": table,
    }  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.output}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])

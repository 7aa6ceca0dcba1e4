"""Scaling benchmark: MultiWorkerMirroredStrategy 1 vs 2 workers on loopback, input overhead.

(a) examples/s of the same ImageClassifier training with 1 and with 2 workers of
    ``MultiWorkerMirroredStrategy`` on this machine (loopback gRPC; both workers share its CPU
    cores, so this measures the strategy's overhead here, not a cluster's speed-up);
(b) input-pipeline overhead: step time with the real tf.data pipeline (TFRecord shards, parse,
    resize, shuffle, batch, prefetch) divided by step time on one batch held in memory.

    python -m bench.scaling [--steps 60] [--batch-size 64]
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from bench._harness import bench_parser
from common.distribute import run_loopback_cluster

RESULTS = Path(__file__).resolve().parent / "results" / "scaling.json"
ROOT = Path(__file__).resolve().parents[1]


def _classifier(batch_size: int):
    from vision import ImageClassifier, load_digits

    digits = load_digits()
    task = ImageClassifier(
        classes=digits.class_names,
        image_size=32,
        widths=[16, 32, 64],
        flip=None,
        batch_size=batch_size,
        seed=0,
    )
    return task, digits


def worker(index: int, steps: int, batch_size: int, out: str) -> None:
    """One worker of the TF_CONFIG cluster: train for ``steps`` and report examples/s."""
    import numpy as np

    task, digits = _classifier(batch_size)
    repeats = int(np.ceil(steps * batch_size / len(digits))) + 1
    images = np.concatenate([digits.images] * repeats)[: steps * batch_size]
    labels = np.concatenate([digits.labels] * repeats)[: steps * batch_size]
    started = time.perf_counter()
    task.fit((images, labels), epochs=2, strategy="multi_worker", verbose=0)
    history = task.history
    elapsed = time.perf_counter() - started
    Path(out).write_text(
        json.dumps(
            {
                "examples_per_sec": history["examples_per_sec"][
                    -1
                ],  # second epoch: traced and warm
                "step_time_ms": history["step_time_ms"][-1],
                "wall_s": elapsed,
            }
        )
    )


def run_cluster(workers: int, steps: int, batch_size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_loopback_cluster(
            lambda index: (
                f"from bench.scaling import worker; "
                f"worker({index}, {steps}, {batch_size}, {tmp!r} + '/w{index}.json')"
            ),
            workers,
            ROOT,
            timeout=1800,
        )
        chief = json.loads(Path(tmp, "w0.json").read_text())
    return chief


def input_overhead(steps: int, batch_size: int) -> dict:
    """Step time on the real tf.data pipeline vs on one batch held in memory."""
    import numpy as np
    import tensorflow as tf

    from common.data import read_tfrecords, write_tfrecords

    task, digits = _classifier(batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        write_tfrecords(
            tf.data.Dataset.from_tensor_slices((digits.images, digits.labels)),
            Path(tmp) / "digits",
            num_shards=4,
        )
        streaming = read_tfrecords(Path(tmp) / "digits")
        pipeline = task.make_dataset(streaming, batch_size, training=True)
        # the real pipeline without its in-memory cache: every epoch re-reads and re-decodes
        size = task.config.image_size
        from vision.images import to_model_input

        uncached = (
            streaming.map(
                lambda x, y: (to_model_input(x, size), y), num_parallel_calls=tf.data.AUTOTUNE
            )
            .shuffle(1024, seed=0)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        images, labels = next(iter(pipeline))
        in_memory = tf.data.Dataset.from_tensors((images, labels)).repeat(steps)
        model = task.model
        task.compile_model(model, 10 * steps)
        model.fit(in_memory.take(5), verbose=0, shuffle=False)  # trace once

        def timed(dataset) -> float:
            started = time.perf_counter()
            model.fit(dataset.take(steps), verbose=0, shuffle=False)
            return (time.perf_counter() - started) / steps

        memory_step = float(np.median([timed(in_memory) for _ in range(2)]))
        real_step = float(np.median([timed(uncached.repeat()) for _ in range(2)]))
    return {
        "memory_step_ms": memory_step * 1e3,
        "pipeline_step_ms": real_step * 1e3,
        "overhead_ratio": real_step / memory_step,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = bench_parser(__doc__)
    parser.add_argument("--steps", type=int, default=60, help="training steps per epoch")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    args = parser.parse_args(argv)

    one = run_cluster(1, args.steps, args.batch_size)
    two = run_cluster(2, args.steps, args.batch_size)
    overhead = input_overhead(args.steps, args.batch_size)
    results = {
        "workers_1_examples_per_sec": one["examples_per_sec"],
        "workers_2_examples_per_sec": two["examples_per_sec"],
        "two_vs_one_ratio": two["examples_per_sec"] / one["examples_per_sec"],
        **overhead,
        "cpu_cores": os.cpu_count(),
        "note": "both workers share this machine's cores (loopback); ratios, not cluster speed-ups",
    }
    print(f"{'measure':<34}{'value':>12}")
    for key, value in results.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<34}{shown:>12}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()

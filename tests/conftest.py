"""Shared fixtures: a small trained digits classifier (trained once per session) and helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TF 2.21's oneDNN kernels corrupt the heap when training 8-channel convolutions on 16x16
# inputs (malloc "invalid chunk size" / segfault, reproducible; fine with Eigen kernels). Tests
# use tiny models, so run them on the Eigen kernels; child processes inherit the setting.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# `tfds:NAME` downloads by default when the machine is online; tests use local mock data only
# and must never start a multi-GB download on a CI runner that happens to be online.
os.environ.setdefault("DLSUITE_TFDS_DOWNLOAD", "0")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

FRESH_TF_PRELUDE = """
import sys
for name in ("keras", "keras_hub", "tensorflow_text"):
    sys.modules[name] = None
import tensorflow as tf
"""


def run_fresh_tensorflow(code: str, timeout: float = 240) -> str:
    """Run ``code`` in a new interpreter where only tensorflow (no keras & co.) can be imported."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", FRESH_TF_PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def trained_on(train: Any, task_class: type, epochs: int, **options: Any) -> Any:
    """A ``task_class(**options)`` for ``train``'s classes, fitted quietly for ``epochs``: the
    small trained models the module fixtures share."""
    task = task_class(classes=train.class_names, **options)
    task.fit(train, epochs=epochs, verbose=0)
    return task


def serve_in_fresh_tensorflow(
    version: str | os.PathLike,
    inputs: dict[str, np.ndarray],
    folder: str | os.PathLike,
    signature: str = "serving_default",
) -> dict[str, np.ndarray]:
    """Call ``signature`` of the SavedModel ``version`` on ``inputs`` in a fresh process where
    only tensorflow can be imported; every output comes back as a NumPy array (strings as
    bytes objects). ``folder`` holds the two .npz files that carry the arrays across."""
    sent, received = Path(folder) / "served_inputs.npz", Path(folder) / "served_outputs.npz"
    arrays: dict[str, Any] = dict(inputs)
    np.savez(sent, **arrays)
    run_fresh_tensorflow(f"""
        import numpy as np
        fn = tf.saved_model.load({str(version)!r}).signatures[{signature!r}]
        inputs = np.load({str(sent)!r})
        out = fn(**{{k: tf.constant(inputs[k]) for k in inputs.files}})
        np.savez({str(received)!r}, **{{k: v.numpy() for k, v in out.items()}})
    """)
    with np.load(received, allow_pickle=True) as outputs:  # our own file: string outputs
        return {k: outputs[k] for k in outputs.files}


@pytest.fixture(scope="session")
def digits_split():
    from common.data import train_val_split
    from vision.data import load_digits

    digits = load_digits()
    (x_train, y_train), (x_test, y_test) = train_val_split(
        digits.images, digits.labels, 0.2, seed=0
    )
    return digits.class_names, (x_train, y_train), (x_test, y_test)


@pytest.fixture(scope="session")
def trained_digits(digits_split):
    """A small ResNet trained briefly on digits; shared by every test that needs a real model."""
    from vision import ImageClassifier

    classes, train, test = digits_split
    classifier = ImageClassifier(
        classes=classes,
        image_size=32,
        widths=[16, 32, 64],
        flip=None,
        contrast=0.0,
        batch_size=64,
        top_k=3,
    )
    classifier.fit(train, validation_data=test, epochs=8, verbose=0)
    return classifier


@pytest.fixture()
def rgb_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(40, 30, 3), dtype=np.uint8)

"""Two MultiWorkerMirroredStrategy workers on loopback train one ImageClassifier together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def train_worker(index: int, out_dir: str) -> None:
    """One worker of the cluster described by TF_CONFIG (run in a child process)."""
    from common.data import train_val_split
    from tests.common.digits_task import tiny_digit_classifier
    from vision import load_digits

    digits = load_digits()
    (x, y), _ = train_val_split(digits.images, digits.labels, 0.2, seed=0)
    task = tiny_digit_classifier(batch_size=64)
    history = task.fit((x[:256], y[:256]), epochs=2, strategy="multi_worker", verbose=0)
    weights = [w.tolist() for w in task.model.get_weights()]
    exported = task.export(Path(out_dir) / "models" / "digits")
    result = {
        "weights": weights,
        "loss": history.history["loss"],
        "exported": str(exported) if exported else None,
    }
    (Path(out_dir) / f"worker{index}.json").write_text(json.dumps(result))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_workers_end_with_identical_weights_and_the_chief_exports(tmp_path):
    from common.distribute import run_loopback_cluster

    run_loopback_cluster(
        lambda index: (
            f"from tests.common.test_multi_worker import train_worker; "
            f"train_worker({index}, {str(tmp_path)!r})"
        ),
        2,
        Path.cwd(),
        timeout=420,
    )
    chief, other = (json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2))
    for a, b in zip(chief["weights"], other["weights"], strict=True):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-6)
    assert chief["loss"] == pytest.approx(other["loss"])
    assert chief["exported"] and (Path(chief["exported"]) / "saved_model.pb").is_file()
    assert other["exported"] is None
    assert [p.name for p in (tmp_path / "models" / "digits").iterdir()] == ["1"]

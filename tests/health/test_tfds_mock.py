"""TFDS medical sets by name, read through tfds.testing.mock_data (no files, no network)."""

from __future__ import annotations

import numpy as np
import pytest

from common.data import DatasetNotOnDiskError
from health.tfds_sets import KNOWN_SETS, load_tfds_medical
from tests.cli_helpers import domain_runner


@pytest.mark.parametrize("name", KNOWN_SETS)
def test_tfds_medical_sets_become_labelled_images(name):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        data = load_tfds_medical(name, split="train", grayscale=True, limit=3)
    assert len(data) == len(data.labels) == 3
    assert set(data.labels) <= set(data.classes) and len(data.classes) >= 2
    assert all(not c.isdigit() for c in data.classes)  # names, never bare indices
    assert all(
        image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 1
        for image in data.images
    )


def test_tfds_set_trains_a_classifier():
    import tensorflow_datasets as tfds

    from health.classification import MedicalImageClassifier

    with tfds.testing.mock_data(num_examples=8):
        data = load_tfds_medical("patch_camelyon")
    assert data.images[0].shape == (96, 96, 3)
    classifier = MedicalImageClassifier(
        classes=data.classes,
        channels=3,
        image_size=16,
        widths=[4, 8],
        window=None,
        scale=1 / 255,
        batch_size=4,
    )
    classifier.fit(data, epochs=1, verbose=0)
    scores = classifier.predict(data.images[:2])
    assert len(scores) == 2 and all(r["label"] in data.classes for r in scores)


def test_tfds_errors(tmp_path):
    import tensorflow_datasets as tfds

    with pytest.raises(DatasetNotOnDiskError, match=r"tfds build patch_camelyon.*--data-dir"):
        load_tfds_medical("patch_camelyon", data_dir=tmp_path, download=False)
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(ValueError, match=r"no feature\(s\) \['finding'\]"):
            load_tfds_medical("patch_camelyon", label_key="finding")
        with pytest.raises(ValueError, match="'id' is Text, not a class label"):
            load_tfds_medical("patch_camelyon", label_key="id")
    with pytest.raises(ValueError, match="limit must be at least 1"):
        load_tfds_medical("patch_camelyon", limit=0)


@pytest.mark.slow
def test_cli_trains_and_evaluates_on_a_tfds_set(tmp_path, capsys):
    import json

    import tensorflow_datasets as tfds

    from health import cli

    run = domain_runner(cli.register)
    model = tmp_path / "camelyon.keras"
    with tfds.testing.mock_data(num_examples=8):
        assert (
            run(
                "health classify train --data tfds:patch_camelyon --output",
                model,
                "--image-size 16 --widths 4,8 --epochs 1 --batch-size 4",
            )
            == 0
        )
        capsys.readouterr()
        assert (
            run(
                "health classify evaluate --model",
                model,
                "--data tfds:patch_camelyon:test --limit 6",
            )
            == 0
        )
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert "sensitivity" in report and 0 <= report["roc_auc"] <= 1
    assert sum(map(sum, report["per_class"]["metastasis"]["confusion_matrix"])) == 6  # --limit 6

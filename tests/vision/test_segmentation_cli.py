"""``dlsuite vision segment ...``: train on an image + mask folder, evaluate, predict, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.cli_helpers import check_export, check_train, domain_runner
from vision import cli

_run = domain_runner(cli.register, dest="domain")


def _mask_folder(root, count=5):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(count):
        mask = np.zeros((32, 48), np.uint8)
        mask[4 + i : 20 + i, 10:30] = 1
        Image.fromarray((mask * 200 + 20).astype(np.uint8)).convert("RGB").save(
            root / "images" / f"m{i}.png"
        )
        Image.fromarray(mask, mode="L").save(root / "masks" / f"m{i}.png")
    return root


@pytest.mark.slow
def test_segment_train_evaluate_predict_export(tmp_path, capsys):
    data = _mask_folder(tmp_path / "cells")
    model = tmp_path / "seg.keras"
    options = "--classes background,cell --image-size 32 --epochs 1 --batch-size 4"
    check_train(_run, "vision segment", "--data", data, options, output=model)
    assert "validation mean IoU" in capsys.readouterr().out
    assert _run("vision segment evaluate --model", model, "--data", data, "--part train") == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["per_class"]) == {"background", "cell"} and "confusion_matrix" not in report
    image = str(data / "images" / "m0.png")
    assert (
        _run(
            "vision segment predict --model",
            model,
            "--mask-dir",
            tmp_path / "masks",
            "--overlay-dir",
            tmp_path / "overlays",
            image,
        )
        == 0
    )
    assert "32x48" in capsys.readouterr().out
    assert np.asarray(Image.open(tmp_path / "masks" / "m0.png")).shape == (32, 48)
    assert (tmp_path / "overlays" / "m0.png").is_file()
    check_export(_run, "vision segment", model, tmp_path / "models")
    with pytest.raises(ValueError, match="images/ and masks/"):
        _run("vision segment evaluate --model", model, "--data", tmp_path)


def test_log_dir_pictures_overlay_the_predicted_masks():
    """The ``--log-dir`` renderer: each sample with its predicted mask blended over it."""
    import io

    from common.callbacks import picture_batch
    from common.task_cli import sample_inputs
    from vision.segmentation import cli as segmentation_cli
    from vision.segmentation.data import make_shape_masks
    from vision.segmentation.task import ImageSegmenter

    shapes = make_shape_masks(5, 32, seed=0)
    segmenter = ImageSegmenter(
        classes=shapes.class_names, image_size=32, widths=[8, 8, 8], aspp_filters=8
    )
    samples = sample_inputs(shapes)
    assert len(samples) == 4
    pictures = segmentation_cli.render_masks(segmenter)(samples)
    with Image.open(io.BytesIO(pictures[0])) as image:
        assert image.width == 32 and image.height >= 32
    assert picture_batch(pictures).shape[0] == 4  # what SamplePredictions logs

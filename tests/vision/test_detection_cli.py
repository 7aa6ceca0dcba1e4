"""``dlsuite vision detect ...``: train on a VOC folder, evaluate, predict with drawings, export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli_helpers import check_export, check_train, domain_runner
from vision import cli
from vision.images import encode_png

_run = domain_runner(cli.register, dest="domain")


def _voc_folder(root, count=4):
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        image = np.full((64, 64, 3), 30, np.uint8)
        y, x = rng.integers(4, 30, size=2)
        image[y : y + 24, x : x + 24] = 220
        (root / "JPEGImages" / f"im{i}.png").write_bytes(encode_png(image))
        (root / "Annotations" / f"im{i}.xml").write_text(
            f"<annotation><filename>im{i}.png</filename><object><name>block</name><bndbox>"
            f"<xmin>{x}</xmin><ymin>{y}</ymin><xmax>{x + 24}</xmax><ymax>{y + 24}</ymax>"
            "</bndbox></object></annotation>"
        )
    return root


@pytest.mark.slow
def test_detect_train_evaluate_predict_export(tmp_path, capsys):
    data = _voc_folder(tmp_path / "voc")
    model = tmp_path / "det.keras"
    options = "--image-size 64 --epochs 1 --batch-size 4"
    check_train(_run, "vision detect", "--data", data, "--val-data", data, options, output=model)
    assert "validation mAP" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="--overwrite"):
        _run("vision detect train --data", data, "--output", model)
    report_dir = tmp_path / "report"
    argv = ["vision", "detect", "evaluate", "--model", str(model), "--data", str(data)]
    assert _run(argv, "--report-dir", report_dir) == 0  # refused before the scaffold
    report = json.loads(capsys.readouterr().out)
    assert {"mAP", "mAP_50", "mAP_75", "per_class"} <= set(report) and report["num_objects"] == 4
    assert json.loads((report_dir / "metrics.json").read_text()) == report
    image = str(data / "JPEGImages" / "im0.png")
    assert (
        _run(
            "vision detect predict --model",
            model,
            "--score-threshold 0 --draw-dir",
            tmp_path / "drawn",
            image,
        )
        == 0
    )
    assert image in capsys.readouterr().out and (tmp_path / "drawn" / "im0.png").is_file()
    argv = ["vision", "detect", "predict", "--model", str(model), "--json", image, image]
    assert _run(argv, "--score-threshold 0") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["image"] for line in lines] == [image, image]
    assert {"boxes", "scores", "labels"} <= set(lines[0])
    check_export(_run, "vision detect", model, tmp_path / "models")
    with pytest.raises(ValueError, match="not a COCO .json file"):
        _run("vision detect evaluate --model", model, "--data", tmp_path / "nothing")


def test_log_dir_pictures_draw_the_predicted_boxes(tmp_path):
    """The ``--log-dir`` renderer: one PNG per sample, the image at its own size + a legend."""
    import io

    from PIL import Image

    from common.task_cli import sample_inputs
    from vision.detection import ObjectDetector
    from vision.detection import cli as detection_cli
    from vision.detection.data import make_shape_scenes

    scenes = make_shape_scenes(3, 64, seed=0)
    detector = ObjectDetector(
        classes=scenes.class_names, image_size=64, widths=[8, 8, 8, 8, 8], fpn_width=8
    )
    samples = sample_inputs(scenes)
    samples[1] = str(_voc_folder(tmp_path / "voc", count=1) / "JPEGImages" / "im0.png")
    pictures = detection_cli.render_boxes(detector)(samples)
    assert len(pictures) == 3 and all(isinstance(p, bytes) for p in pictures)
    for picture in pictures:
        with Image.open(io.BytesIO(picture)) as image:
            assert image.width == 64 and image.height > 64  # the legend band below

"""``dlsuite health ...``: train / evaluate / predict / export / explain / deidentify."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pydicom
import pytest

from health import cli
from health import io as hio
from tests.cli_helpers import check_export, domain_runner

run = domain_runner(cli.register, dest="command")


def test_segment_cycle_on_dicom_cases(tmp_path, capsys):
    cases = hio.write_phantom_cases(
        hio.make_phantoms(6, (32, 32), seed=0, lesion_fraction=1.0), tmp_path / "cases"
    )
    model = tmp_path / "seg.keras"
    assert (
        run(
            "health segment train --data",
            tmp_path / "cases",
            "--output",
            model,
            "--patch-size 32,32 --widths 4,8 --epochs 1 --patches-per-epoch 8 --batch-size 4",
        )
        == 0
    )
    with pytest.raises(FileExistsError, match="--overwrite"):
        run("health segment train --data", tmp_path / "cases", "--output", model)
    capsys.readouterr()
    assert (
        run(
            "health segment evaluate --model",
            model,
            "--data",
            tmp_path / "cases",
            "--report-dir",
            tmp_path / "seg_report",
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert set(report["per_class"]) == {"organ", "lesion"}
    assert json.loads((tmp_path / "seg_report" / "metrics.json").read_text()) == report
    assert (tmp_path / "seg_report" / "per_class.csv").read_text().startswith("class,")
    series = tmp_path / "series"
    hio.write_dicom_series(
        hio.Volume(
            np.stack([np.asarray(hio.read(c / "image.nii.gz").array) for c in cases[:2]]),
            (3.0, 0.8, 0.8),
        ),
        series,
        patient_name="Doe^Jane",
        patient_id="PID-7",
    )
    assert (
        run("health segment predict --model", model, "--mask-dir", tmp_path / "masks", series) == 0
    )
    out = capsys.readouterr().out
    assert (
        "series: shape (2, 32, 32)" in out
        and "ml" in out
        and "Doe" not in out
        and "PID-7" not in out
    )
    mask = hio.read(tmp_path / "masks" / "series_mask.nii.gz")
    assert mask.shape == (2, 32, 32) and np.allclose(mask.spacing, (3.0, 0.8, 0.8))
    check_export(run, "health segment", model, tmp_path / "exp")


def test_classify_cycle_with_explain_and_deidentify(tmp_path, capsys):
    model = tmp_path / "clf.keras"
    assert (
        run(
            "health classify train --data builtin:phantoms --output",
            model,
            "--image-size 32 --widths 4,8 --epochs 1 --batch-size 64",
        )
        == 0
    )
    phantoms = hio.make_phantoms(2, (32, 32), seed=9, lesion_fraction=1.0)
    paths = hio.write_dicom_series(
        hio.Volume(phantoms.images[0], (0.8, 0.8)),
        tmp_path / "dcm",
        patient_name="Doe^Jane",
        patient_id="PID-7",
    )
    capsys.readouterr()
    assert run("health classify predict --model", model, paths[0]) == 0
    assert "lesion" in capsys.readouterr().out
    assert (
        run(
            "health classify explain --model",
            model,
            "--output-dir",
            tmp_path / "cam",
            "--target-class lesion",
            paths[0],
        )
        == 0
    )
    assert (tmp_path / "cam" / "slice_0000_gradcam.png").exists()
    assert (
        run(
            "health classify evaluate --model",
            model,
            "--data builtin:phantoms --report-dir",
            tmp_path / "rep",
        )
        == 0
    )
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert 0 <= report["roc_auc"] <= 1 and "sensitivity" in report
    assert (tmp_path / "rep" / "reliability_lesion.png").exists()
    assert run("health deidentify", tmp_path / "dcm", "--output", tmp_path / "clean") == 0
    cleaned = pydicom.dcmread(tmp_path / "clean" / "slice_0000.dcm")
    assert "PatientName" not in cleaned and cleaned.PatientIdentityRemoved == "YES"
    with pytest.raises(ValueError, match="unknown built-in data"):
        run("health segment train --data builtin:nothing --output", tmp_path / "x.keras")
    with pytest.raises(ValueError, match="not a CSV"):
        run("health classify train --data", tmp_path, "--output", tmp_path / "y.keras")


def test_explain_writes_one_png_per_input_and_never_overwrites(tmp_path, capsys):
    """Issue 31 item 3: two cases' image.nii.gz no longer share (and overwrite) one PNG."""
    from health.classification import MedicalImageClassifier

    model = MedicalImageClassifier(classes=["normal", "lesion"], image_size=32, widths=[4, 8]).save(
        tmp_path / "clf.keras"
    )
    phantoms = hio.make_phantoms(2, (32, 32), seed=9, lesion_fraction=1.0)
    inputs = []
    for i, image in enumerate(phantoms.images):
        path = tmp_path / f"case_00{i}" / "image.nii.gz"
        hio.write_nifti(hio.Volume(image, (0.8, 0.8)), path)
        inputs.append(str(path))
    out = tmp_path / "cam"
    argv = ["health", "classify", "explain", "--model", str(model), "--output-dir", str(out)]
    assert run(argv, inputs) == 0
    first = ["case_000_image_gradcam.png", "case_001_image_gradcam.png"]
    assert sorted(p.name for p in out.iterdir()) == first
    lines = capsys.readouterr().out.splitlines()
    assert [line.rsplit(" -> ", 1)[1] for line in lines] == [str(out / name) for name in first]
    written = {name: (out / name).read_bytes() for name in first}
    assert run(argv, inputs) == 0  # again: new files next to the earlier ones
    again = ["case_000_image_gradcam-1.png", "case_001_image_gradcam-1.png"]
    assert sorted(p.name for p in out.iterdir()) == sorted(first + again)
    assert {name: (out / name).read_bytes() for name in first} == written


def test_window_option_and_config_defaults(tmp_path):
    from common.task_cli import NONE, config_options
    from health.classification import MedicalImageClassifierConfig

    assert cli.parse_window("40,400") == [40.0, 400.0] and cli.parse_window("none") == NONE
    assert cli.parse_window("lung") == "lung"
    parser = argparse.ArgumentParser(prog="dlsuite")
    cli.register(parser.add_subparsers(dest="command", required=True))
    base = ["health", "classify", "train", "--data", "builtin:phantoms", "--output", "x.keras"]
    args = parser.parse_args([*base, "--window", "none", "--widths", "4,8", "--seed", "2"])
    assert config_options(args, MedicalImageClassifierConfig) == {
        "window": None,
        "widths": [4, 8],
        "seed": 2,
    }
    assert args.log_dir is None and args.patience is None and args.epochs == 20


def test_log_dir_pictures_of_both_health_tasks(tmp_path):
    """``--log-dir`` sample pictures: inputs from phantoms, a labels CSV or a folder of cases;
    the renderers draw each windowed image with its prediction (3-D: the middle slice)."""
    from common.callbacks import picture_batch
    from health.classification import MedicalImageClassifier
    from health.phantoms import write_phantom_cases
    from health.segmentation import MedicalSegmenter

    phantoms = hio.make_phantoms(3, (32, 32), seed=4, lesion_fraction=1.0)
    samples = cli.sample_inputs(phantoms)
    assert len(samples) == 3 and np.array_equal(samples[2], phantoms.images[2])
    write_phantom_cases(phantoms, tmp_path / "cases")
    cases = cli.sample_inputs(str(tmp_path / "cases"))
    assert len(cases) == 3 and all("image.nii" in p or p.endswith("dicom") for p in cases)
    (tmp_path / "labels.csv").write_text("image,label\n" + f"{cases[0]},lesion\n")
    assert cli.sample_inputs(str(tmp_path / "labels.csv")) == [cases[0]]

    classifier = MedicalImageClassifier(classes=["normal", "lesion"], image_size=32, widths=[4])
    pictures = picture_batch(cli.render_scores(classifier)([*samples[:2], cases[0]]))
    assert pictures.shape[0] == 3 and pictures.shape[1] > pictures.shape[2] >= 96
    segmenter = MedicalSegmenter(patch_size=[16, 16], widths=[4, 8])
    pictures = picture_batch(cli.render_masks(segmenter)(samples[:2]))
    assert pictures.shape[:1] == (2,) and pictures.shape[-1] == 3
    volume = hio.make_phantoms(1, (8, 32, 32), seed=1).images[0]
    segmenter3d = MedicalSegmenter(patch_size=[8, 16, 16], widths=[4, 8])
    (picture,) = cli.render_masks(segmenter3d)([volume])
    assert picture.shape[1] == 32 * 3  # the 32 x 32 middle slice, enlarged to >= 96 pixels

"""Grad-CAM pictures (original size, colour bar), output names that never collide or overwrite,
and the lazy ``health`` package listing its public names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from health.gradcam import explain, plot_gradcam, unique_output_paths

ROOT = Path(__file__).resolve().parents[2]


# --- unique_output_paths -------------------------------------------------------------------


def test_colliding_stems_get_their_parent_folders(tmp_path):
    inputs = ["data/case_000/image.nii.gz", "data/case_001/image.nii.gz", "data/other/b.png"]
    paths = unique_output_paths(inputs, "_gradcam.png", tmp_path)
    assert [p.name for p in paths] == [
        "case_000_image_gradcam.png",
        "case_001_image_gradcam.png",
        "b_gradcam.png",
    ]
    assert all(p.parent == tmp_path for p in paths)
    assert unique_output_paths(inputs, "_gradcam.png", tmp_path) == paths  # stable


def test_same_folder_names_one_level_up_are_told_apart(tmp_path):
    inputs = ["a/scan/image.dcm", "b/scan/image.dcm"]
    names = [p.name for p in unique_output_paths(inputs, "_cam.png", tmp_path)]
    assert names == ["a_scan_image_cam.png", "b_scan_image_cam.png"]


def test_existing_files_and_identical_inputs_are_never_overwritten(tmp_path):
    (tmp_path / "image_gradcam.png").write_bytes(b"earlier result")
    paths = unique_output_paths(["x/image.nii.gz", "x/image.nii.gz"], "_gradcam.png", tmp_path)
    assert [p.name for p in paths] == ["image_gradcam-1.png", "image_gradcam-2.png"]
    assert (tmp_path / "image_gradcam.png").read_bytes() == b"earlier result"


def test_arrays_and_bad_suffixes(tmp_path):
    paths = unique_output_paths([np.zeros((4, 4)), "scan.png"], ".png", tmp_path)
    assert [p.name for p in paths] == ["input_0.png", "scan.png"]
    with pytest.raises(ValueError, match="suffix"):
        unique_output_paths(["a.png"], "sub/x.png", tmp_path)


# --- pictures ------------------------------------------------------------------------------


def _colours(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)


def test_heatmap_is_drawn_at_the_image_size_with_a_colour_bar(tmp_path):
    image = np.linspace(0, 1, 60 * 90, dtype=np.float32).reshape(60, 90)
    path = plot_gradcam(image, np.zeros((16, 16)), tmp_path / "cam.png", title="lesion 0.9")
    width, height = Image.open(path).size
    assert width > height  # the 90 x 60 image keeps its aspect (heatmap was 16 x 16)
    pixels = _colours(path)
    # A zero heatmap paints the image blue only; jet's dark red exists only in the colour bar.
    dark_red = (pixels[:, 0] > 110) & (pixels[:, 0] < 150) & (pixels[:, 1:] < 20).all(axis=1)
    assert dark_red.sum() > 20
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        plot_gradcam(np.zeros((4, 4, 2)), np.zeros((4, 4)), tmp_path / "bad.png")


def test_explain_draws_over_the_original_image(tmp_path):
    from health.classification import MedicalImageClassifier

    task = MedicalImageClassifier(classes=["normal", "lesion"], image_size=16, widths=[8])
    original = np.random.default_rng(0).normal(40, 30, (40, 64)).astype(np.float32)
    result = explain(task, original, path=tmp_path / "cam.png", class_index="lesion")
    assert result["heatmap"].shape == (16, 16) and result["class"] == "lesion"
    width, height = Image.open(result["path"]).size
    assert width > height


# --- the lazy package ----------------------------------------------------------------------


def test_dir_health_lists_public_names_without_importing_tensorflow():
    code = (
        "import json, sys, health\n"
        "names = dir(health)\n"
        "light = 'tensorflow' not in sys.modules\n"
        "print(json.dumps({'names': names, 'all': health.__all__, 'light': light}))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = json.loads(result.stdout.strip().splitlines()[-1])
    assert listed["light"]
    for name in ("MedicalImageClassifier", "MedicalSegmenter", "explain", "unique_output_paths"):
        assert name in listed["names"] and name in listed["all"]


def test_every_listed_name_resolves():
    import health

    for name in health.__all__:
        assert getattr(health, name) is not None
    assert health.explain is explain
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        health.nope  # noqa: B018

"""MedicalSegmenter: learns 2-D phantoms (Dice >= 0.7), sliding window, 3-D, save/load, export."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from common.export import non_core_ops
from health import io as hio
from health.phantoms import make_phantoms
from health.segmentation import MedicalSegmenter
from tests.conftest import serve_in_fresh_tensorflow, trained_on


@pytest.fixture(scope="module")
def trained():
    train = make_phantoms(48, (48, 48), seed=0, lesion_fraction=0.7)
    test = make_phantoms(10, (48, 48), seed=1, lesion_fraction=0.7)
    options = {"patch_size": [32, 32], "widths": [8, 16, 32], "patches_per_epoch": 192}
    segmenter = trained_on(train, MedicalSegmenter, 5, batch_size=16, learning_rate=5e-3, **options)
    return segmenter, test


@pytest.mark.slow
def test_learns_phantom_organs_and_lesions(trained):
    segmenter, test = trained
    report = segmenter.evaluate(test)
    assert report["per_class"]["organ"]["dice"] >= 0.7, report
    assert report["mean_dice"] >= 0.7, report
    assert 0 <= report["per_class"]["organ"]["hd95_mm"] < 5.0  # mm, 0.8 mm pixels
    assert set(report["per_class"]) == {"organ", "lesion"}


def test_sliding_window_and_whole_image_agree(trained):
    segmenter, test = trained
    image = test.images[0][:32, :32]  # exactly one patch: both paths see the same input
    whole = segmenter.predict_proba(image, mode="whole")
    windowed = segmenter.predict_proba(image, mode="sliding_window")
    np.testing.assert_allclose(windowed, whole, atol=1e-5)
    big = np.tile(test.images[0], (2, 2))  # 96 x 96: several overlapping windows
    a = segmenter.predict_proba(big, mode="whole").argmax(-1)
    b = segmenter.predict_probabilities(big, mode="sliding_window").argmax(-1)  # old name
    assert a.shape == big.shape and (a == b).mean() > 0.95


def test_predict_on_files_volumes_and_privacy(trained, tmp_path, capsys):
    segmenter, test = trained
    volume = hio.Volume(test.images[:3], (2.0, 0.8, 0.8), modality="CT")
    paths = hio.write_dicom_series(
        volume, tmp_path / "series", patient_name="Doe^Jane", patient_id="PID-42"
    )
    ds = pydicom.dcmread(paths[0])
    assert str(ds.PatientName) == "Doe^Jane"
    result = segmenter.predict(tmp_path / "series")  # a 2-D model segments slice by slice
    assert result["mask"].shape == (3, 48, 48)
    assert result["volume_ml"]["organ"] == pytest.approx(
        (result["mask"] == 1).sum() * 2.0 * 0.64 / 1000
    )
    direct = segmenter.predict(test.images[0])["mask"]
    np.testing.assert_array_equal(result["mask"][0], direct)
    (listed,) = segmenter.predict([test.images[0]])  # a list in, a list out
    np.testing.assert_array_equal(listed["mask"], direct)
    probabilities = segmenter.predict_proba([test.images[0], test.images[1]])
    assert len(probabilities) == 2 and probabilities[0].shape == (48, 48, 3)
    np.testing.assert_array_equal(probabilities[0].argmax(-1), direct)
    text = capsys.readouterr().out + repr(segmenter) + str(result)
    assert "Doe" not in text and "PID-42" not in text


def test_bad_inputs(trained):
    segmenter, test = trained
    with pytest.raises(
        ValueError, match=r"mask 0 has shape \(40, 48\) but its image is \(48, 48\)"
    ):
        segmenter.evaluate((test.images[:1], test.masks[:1, :40]))
    nan = test.images[0].copy()
    nan[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        segmenter.predict(nan)
    with pytest.raises(ValueError, match="class indices"):
        segmenter.evaluate((test.images[:1], test.masks[:1] + 5))
    with pytest.raises(ValueError, match="multiples of 4"):
        MedicalSegmenter(patch_size=[30, 32], widths=[8, 16, 32])
    with pytest.raises(ValueError, match="unknown window preset"):
        MedicalSegmenter(window="sunset")


@pytest.mark.slow
def test_save_load_and_export_parity_in_fresh_process(trained, tmp_path):
    segmenter, test = trained
    segmenter.save(tmp_path / "seg.keras")
    loaded = MedicalSegmenter.load(tmp_path / "seg.keras")
    slices = test.images[:3, :46, :42]  # not a multiple of 4: padded and cropped in the graph
    expected = np.stack([r["mask"] for r in loaded.predict(list(slices), mode="whole")])
    np.testing.assert_array_equal(
        expected, np.stack([r["mask"] for r in segmenter.predict(list(slices), mode="whole")])
    )
    version = loaded.export(tmp_path / "health_segment")
    assert non_core_ops(version) == []
    out = serve_in_fresh_tensorflow(version, {"image": slices}, tmp_path)
    assert out["probabilities"].shape == (3, 46, 42, 3)
    np.testing.assert_array_equal(out["mask"], expected)


def test_3d_unet_sliding_window_and_save(tmp_path):
    phantoms = make_phantoms(4, (16, 24, 24), seed=2, lesion_fraction=1.0)
    segmenter = MedicalSegmenter(
        classes=phantoms.class_names,
        patch_size=[8, 16, 16],
        widths=[4, 8],
        patches_per_epoch=8,
        batch_size=4,
    )
    segmenter.fit(phantoms, epochs=1, verbose=0)
    result = segmenter.predict(phantoms.volume(0))
    assert result["mask"].shape == (16, 24, 24) and "volume_ml" in result
    block = phantoms.images[0][
        :8, :16, :16
    ]  # one patch: sliding window and whole volume see the same input
    np.testing.assert_allclose(
        segmenter.predict_proba(block, mode="sliding_window"),
        segmenter.predict_proba(block, mode="whole"),
        atol=1e-5,
    )
    report = segmenter.evaluate(phantoms)
    assert report["num_cases"] == 4 and 0 <= report["mean_dice"] <= 1
    loaded = MedicalSegmenter.load(segmenter.save(tmp_path / "seg3d.keras"))
    np.testing.assert_array_equal(loaded.predict(phantoms.volume(0))["mask"], result["mask"])

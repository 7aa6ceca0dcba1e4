"""health.io: DICOM / NIfTI round trips, HU rescale, windowing, resampling, bad input, privacy."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from health import io as hio

SECRET_NAME, SECRET_ID = "Doe^Jane", "PID-778899"


@pytest.fixture(scope="module")
def phantom():
    return hio.make_phantoms(1, (6, 24, 20), seed=3, lesion_fraction=1.0)


def test_volume_round_trip_through_dicom_and_nifti(phantom, tmp_path):
    volume = phantom.volume(0)
    hio.write_dicom_series(
        volume, tmp_path / "dicom", patient_name=SECRET_NAME, patient_id=SECRET_ID
    )
    from_dicom = hio.read(tmp_path / "dicom")
    hio.write_nifti(volume, tmp_path / "image.nii.gz")
    from_nifti = hio.read(tmp_path / "image.nii.gz")
    for read_back in (from_dicom, from_nifti):
        assert read_back.array.dtype == np.float32
        np.testing.assert_array_equal(read_back.array, volume.array)  # identical HU voxels
        np.testing.assert_allclose(read_back.spacing, (2.5, 0.8, 0.8), rtol=1e-6)
    # stored on disk as unsigned + intercept: the HU rescale is really applied on read
    ds = pydicom.dcmread(sorted((tmp_path / "dicom").iterdir())[0])
    assert float(ds.RescaleIntercept) == -1024
    assert ds.pixel_array.min() >= 0
    np.testing.assert_array_equal(ds.pixel_array.astype(np.float32) - 1024, volume.array[0])


def test_series_slices_are_ordered_by_position_not_file_name(phantom, tmp_path):
    volume = phantom.volume(0)
    paths = hio.write_dicom_series(volume, tmp_path / "s")
    # shuffle file names and instance numbers; position along the normal must win
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.InstanceNumber = len(paths) - k
        ds.save_as(tmp_path / "s" / f"x{(k * 7) % len(paths)}_{k}.dcm")
        path.unlink()
    np.testing.assert_array_equal(hio.read_dicom_series(tmp_path / "s").array, volume.array)


def test_mixed_series_are_split_or_named(phantom, tmp_path):
    hio.write_dicom_series(phantom.volume(0), tmp_path / "a", series_uid="1.2.3.4")
    hio.write_dicom_series(phantom.volume(0), tmp_path / "b", series_uid="1.2.3.5")
    groups = hio.split_series(tmp_path)
    assert sorted(groups) == ["1.2.3.4", "1.2.3.5"] and all(len(v) == 6 for v in groups.values())
    with pytest.raises(ValueError, match=r"mixes 2 series: 1\.2\.3\.4 .*1\.2\.3\.5"):
        hio.read_dicom_series(tmp_path)
    assert hio.read_dicom_series(tmp_path, series_uid="1.2.3.5").shape == (6, 24, 20)


def test_real_pydicom_ct_and_mr_slices():
    ct = hio.read(get_testdata_file("CT_small.dcm"))
    raw = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    expected = raw.pixel_array * float(raw.RescaleSlope) + float(raw.RescaleIntercept)
    np.testing.assert_array_equal(ct.array, expected.astype(np.float32))
    np.testing.assert_allclose(ct.spacing, [float(v) for v in raw.PixelSpacing])
    assert ct.modality == "CT" and ct.shape == (128, 128)
    mr = hio.read(get_testdata_file("MR_small.dcm"))
    assert mr.modality == "MR" and mr.shape == (64, 64)


def test_monochrome1_is_inverted(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.save_as(tmp_path / "m1.dcm")
    plain = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float64)
    bits = int(ds.BitsStored)
    low, high = (
        (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if ds.PixelRepresentation else (0, 2**bits - 1)
    )
    np.testing.assert_array_equal(
        hio.read(tmp_path / "m1.dcm").array, (low + high - plain).astype(np.float32)
    )
    assert hio.read(tmp_path / "m1.dcm", invert_monochrome1=False).array.max() == plain.max()


def test_windowing_matches_hand_computation():
    hu = np.array([-1000.0, -160.0, 40.0, 100.0, 240.0, 1000.0])
    # abdomen: level 40, width 400 -> [-160, 240]
    np.testing.assert_allclose(hio.apply_window(hu, "abdomen"), [0, 0, 0.5, 0.65, 1, 1], atol=1e-6)
    np.testing.assert_allclose(hio.apply_window(hu, (0, 2000)), (hu + 1000) / 2000, atol=1e-6)
    np.testing.assert_allclose(
        hio.window_tf(hu, "lung").numpy(), hio.apply_window(hu, "lung"), atol=1e-6
    )
    assert set(hio.WINDOW_PRESETS) >= {"lung", "mediastinum", "bone", "brain", "abdomen"}
    with pytest.raises(ValueError, match="unknown window preset"):
        hio.apply_window(hu, "spleen-ish")
    with pytest.raises(ValueError, match="width must be positive"):
        hio.apply_window(hu, (40, 0))


def test_resample_and_normalize():
    volume = hio.Volume(np.arange(4 * 6 * 6, dtype=np.float32).reshape(4, 6, 6), (2.0, 1.0, 1.0))
    fine = hio.resample(volume, (1.0, 0.5, 0.5))
    assert fine.shape == (8, 12, 12) and fine.spacing == (1.0, 0.5, 0.5)
    assert fine.physical_size == volume.physical_size
    labels = hio.Volume((volume.array > 70).astype(np.uint8), volume.spacing)
    coarse = hio.resample(labels, (4.0, 2.0, 2.0), order=0)
    assert coarse.shape == (2, 3, 3) and set(np.unique(coarse.array)) <= {0, 1}
    z = hio.normalize(volume.array)
    assert abs(z.mean()) < 1e-5 and abs(z.std() - 1) < 1e-4
    assert hio.normalize(volume.array, "minmax").max() == 1.0
    with pytest.raises(ValueError, match="unknown normalisation"):
        hio.normalize(volume.array, "magic")


def test_bad_inputs_raise_clear_errors(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.PixelData
    ds.save_as(tmp_path / "nopixels.dcm")
    with pytest.raises(ValueError, match="no pixel data"):
        hio.read(tmp_path / "nopixels.dcm")
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del ds.PixelSpacing
    ds.save_as(tmp_path / "nospacing.dcm")
    with pytest.raises(ValueError, match="no PixelSpacing"):
        hio.read(tmp_path / "nospacing.dcm")
    assert hio.read(tmp_path / "nospacing.dcm", default_spacing=0.5).spacing == (0.5, 0.5)
    (tmp_path / "junk.dcm").write_bytes(b"not a dicom file at all")
    with pytest.raises(ValueError, match="not a readable DICOM"):
        hio.read(tmp_path / "junk.dcm")
    nan = np.zeros((4, 4, 4), np.float32)
    nan[1, 2, 3] = np.nan
    hio.write_nifti(nan, tmp_path / "nan.nii.gz", spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="1 NaN or infinite voxels"):
        hio.read(tmp_path / "nan.nii.gz")
    with pytest.raises(ValueError, match="spacing must be positive"):
        hio.Volume(np.zeros((3, 3)), (0.0, 1.0))
    with pytest.raises(ValueError, match="no such"):
        hio.read(tmp_path / "missing.nii.gz")


def test_no_patient_identifiers_in_reprs_errors_or_deidentified_files(tmp_path, capsys):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PatientName, ds.PatientID, ds.InstitutionName = SECRET_NAME, SECRET_ID, "St Secret Hospital"
    ds.add_new(0x00091001, "LO", "note " + SECRET_ID)
    ds.save_as(tmp_path / "named.dcm")
    volume = hio.read(tmp_path / "named.dcm")
    del ds.PixelData
    ds.save_as(tmp_path / "named_nopixels.dcm")
    with pytest.raises(ValueError) as error:
        hio.read(tmp_path / "named_nopixels.dcm")
    text = (
        repr(volume)
        + str(volume)
        + str(volume.metadata)
        + str(error.value)
        + capsys.readouterr().out
    )
    for secret in (SECRET_NAME, "Doe", SECRET_ID):
        assert secret not in text
    clean = hio.deidentify_file(tmp_path / "named.dcm", tmp_path / "clean.dcm")
    raw = clean.read_bytes()
    assert b"Doe" not in raw and SECRET_ID.encode() not in raw and b"St Secret" not in raw
    cleaned = pydicom.dcmread(clean)
    assert cleaned.PatientIdentityRemoved == "YES"
    assert cleaned.SeriesInstanceUID != ds.SeriesInstanceUID
    np.testing.assert_array_equal(hio.read(clean).array, volume.array)  # pixels untouched


def test_png_xray_and_phantom_cases(tmp_path):
    from PIL import Image

    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "xray.png")
    xray = hio.read(tmp_path / "xray.png", spacing=0.2)
    assert xray.shape == (8, 8) and xray.spacing == (0.2, 0.2) and xray.array[1, 0] == 8
    phantoms = hio.make_phantoms(2, (32, 32), seed=0, lesion_fraction=1.0)
    assert phantoms.labels.tolist() == [1, 1] and (phantoms.masks == 2).any()
    cases = hio.write_phantom_cases(hio.make_phantoms(1, (8, 16, 16), seed=0), tmp_path / "cases")
    assert hio.read(cases[0] / "dicom").shape == (8, 16, 16)
    assert hio.read(cases[0] / "mask.nii.gz").array.max() >= 1


def test_health_io_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, health.io; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]


def test_label_csv_errors(tmp_path):
    from health.data import read_label_csv

    (tmp_path / "bad.csv").write_text("path,finding\na.png,x\n")
    with pytest.raises(ValueError, match="'image' and 'label' columns"):
        read_label_csv(tmp_path / "bad.csv")
    (tmp_path / "ok.csv").write_text("image,label\na.png,nodule|effusion\nb.png,\n")
    paths, labels, classes = read_label_csv(tmp_path / "ok.csv")
    assert classes == ["effusion", "nodule"] and paths[0] == tmp_path / "a.png" and labels[1] == ""
    with pytest.raises(ValueError, match=r"labels \['nodule'\] that are not among"):
        read_label_csv(tmp_path / "ok.csv", classes=["effusion"])

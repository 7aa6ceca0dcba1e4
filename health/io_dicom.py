"""DICOM reading and writing with pydicom: single files, series stacked by position, HU rescale,
MONOCHROME1 inversion, series splitting, and de-identification.

Error messages name files and series UIDs, never patient names or IDs.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from health.volume import Volume

#: Tags removed by ``deidentify`` (a subset of the DICOM PS3.15 basic profile that covers the
#: direct identifiers; private tags are removed as well).
IDENTIFYING_TAGS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "PatientAge",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "OtherPatientIDs",
    "OtherPatientNames",
    "OtherPatientIDsSequence",
    "PatientMotherBirthName",
    "MilitaryRank",
    "EthnicGroup",
    "PatientComments",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "AccessionNumber",
    "StudyID",
    "DeviceSerialNumber",
    "RequestingPhysician",
    "IssuerOfPatientID",
    "PatientInsurancePlanCodeSequence",
    "MedicalRecordLocator",
    "CountryOfResidence",
    "RegionOfResidence",
    "PatientSize",
    "PatientWeight",
)
_UID_TAGS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


def _name(path: str | os.PathLike) -> str:
    return Path(path).name


def read_dataset(path: str | os.PathLike, pixels: bool = True) -> pydicom.Dataset:
    """Read one DICOM file; ``ValueError`` for a missing, non-DICOM or pixel-less file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such DICOM file: {_name(path)}")
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=not pixels)
    except (InvalidDicomError, EOFError, OSError, KeyError, ValueError, TypeError) as error:
        raise ValueError(
            f"{_name(path)} is not a readable DICOM file ({type(error).__name__})"
        ) from None
    if pixels and "PixelData" not in ds:
        raise ValueError(f"DICOM file {_name(path)} has no pixel data (no image in it)")
    return ds


def pixel_spacing(
    ds: pydicom.Dataset, name: str, default: float | None = None
) -> tuple[float, float]:
    """(row, column) spacing in mm from PixelSpacing (or ImagerPixelSpacing for projection
    X-rays)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is not None and len(value) == 2:
            spacing = (float(value[0]), float(value[1]))
            if all(s > 0 for s in spacing):
                return spacing
    if default is not None:
        return (float(default), float(default))
    raise ValueError(
        f"DICOM file {name} has no PixelSpacing; "
        "pass default_spacing=... if you know the pixel size"
    )


def to_hounsfield(
    ds: pydicom.Dataset, name: str = "<dataset>", invert_monochrome1: bool = True
) -> np.ndarray:
    """Stored pixels -> float32 modality values: MONOCHROME1 inverted, then slope * v +
    intercept."""
    try:
        stored = ds.pixel_array
    except Exception as error:  # pydicom raises many types for broken / compressed pixel data
        raise ValueError(
            f"cannot decode the pixel data of {name} ({type(error).__name__})"
        ) from None
    stored = stored.astype(np.float64)
    if invert_monochrome1 and str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        bits = int(ds.get("BitsStored", 16))
        if int(ds.get("PixelRepresentation", 0)) == 1:
            low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        else:
            low, high = 0, 2**bits - 1
        stored = (low + high) - stored
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    return (stored * slope + intercept).astype(np.float32)


def read_dicom_file(
    path: str | os.PathLike, default_spacing: float | None = None, invert_monochrome1: bool = True
) -> Volume:
    """One DICOM image -> 2-D Volume in HU (CT) or raw intensities, with its pixel spacing."""
    ds = read_dataset(path)
    name = _name(path)
    array = to_hounsfield(ds, name, invert_monochrome1)
    if array.ndim == 3 and array.shape[-1] in (3, 4) and ds.get("SamplesPerPixel", 1) > 1:
        array = array[..., :3].mean(axis=-1)  # colour secondary captures: grey
    if array.ndim != 2:
        raise ValueError(
            f"{name} holds a multi-frame image of shape {array.shape}; read it as a series"
        )
    position = ds.get("ImagePositionPatient")
    origin = tuple(float(v) for v in position[:2]) if position else (0.0, 0.0)
    return Volume(
        array,
        pixel_spacing(ds, name, default_spacing),
        origin=origin,
        modality=str(ds.get("Modality", "")),
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        metadata=_safe_metadata(ds),
    )


def _safe_metadata(ds: pydicom.Dataset) -> dict:
    """The non-identifying fields worth keeping (windowing hints, photometric interpretation)."""
    out = {"photometric_interpretation": str(ds.get("PhotometricInterpretation", ""))}
    for keyword, key in (("WindowCenter", "window_center"), ("WindowWidth", "window_width")):
        value = ds.get(keyword)
        if value is not None:
            out[key] = float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)
    return out


def dicom_files(folder: str | os.PathLike) -> list[Path]:
    """All files in ``folder`` (recursively) that pydicom can read as DICOM, sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no such DICOM folder: {folder}")
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"])
        except (InvalidDicomError, EOFError, OSError, KeyError, ValueError, TypeError):
            continue
        found.append(path)
    if not found:
        raise ValueError(f"no DICOM files in {folder}")
    return found


def split_series(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> dict[str, list[Path]]:
    """Group DICOM files (a folder or a list) by SeriesInstanceUID: ``{uid: [paths]}``."""
    if isinstance(paths, (str, os.PathLike)):
        paths = dicom_files(paths)
    series: dict[str, list[Path]] = {}
    for path in paths:
        ds = read_dataset(path, pixels=False)
        series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(Path(path))
    return series


def _slice_position(ds: pydicom.Dataset) -> float | None:
    """Distance of a slice along its normal (from ImageOrientationPatient x
    ImagePositionPatient)."""
    position, orientation = ds.get("ImagePositionPatient"), ds.get("ImageOrientationPatient")
    if position is None or orientation is None or len(orientation) != 6:
        return None
    row, column = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    return float(np.dot(np.cross(row, column), np.asarray(position, float)))


def read_dicom_series(
    source: str | os.PathLike | Sequence[str | os.PathLike],
    series_uid: str | None = None,
    default_spacing: float | None = None,
    invert_monochrome1: bool = True,
) -> Volume:
    """A folder (or list of files) holding one series -> 3-D Volume (z, y, x) in HU.

    Slices are ordered by their position along the slice normal (ImagePositionPatient and
    ImageOrientationPatient), or by InstanceNumber when positions are missing. The slice
    spacing comes from the positions (median gap), else SpacingBetweenSlices / SliceThickness.
    A folder with several series raises ``ValueError`` naming their UIDs unless ``series_uid``
    picks one (``split_series`` lists them).
    """
    groups = split_series(source)
    if series_uid is not None:
        if series_uid not in groups:
            raise ValueError(f"series {series_uid} is not among {sorted(groups)}")
        paths = groups[series_uid]
    elif len(groups) > 1:
        listing = ", ".join(f"{uid} ({len(files)} files)" for uid, files in sorted(groups.items()))
        raise ValueError(
            f"the folder mixes {len(groups)} series: {listing}; pass series_uid=... to pick one "
            "(health.io.split_series groups them)"
        )
    else:
        paths = next(iter(groups.values()))
    datasets = [(path, read_dataset(path)) for path in paths]
    positions = [_slice_position(ds) for _, ds in datasets]
    if all(p is not None for p in positions):
        order = np.argsort(positions, kind="stable")
    else:
        order = np.argsort(
            [int(ds.get("InstanceNumber", i)) for i, (_, ds) in enumerate(datasets)], kind="stable"
        )
        positions = None
    datasets = [datasets[i] for i in order]
    slices = [to_hounsfield(ds, _name(path), invert_monochrome1) for path, ds in datasets]
    shapes = {s.shape for s in slices}
    if len(shapes) != 1:
        raise ValueError(
            f"slices of series {datasets[0][1].get('SeriesInstanceUID', '?')} "
            f"differ in size: {sorted(shapes)}"
        )
    first_path, first = datasets[0]
    row, column = pixel_spacing(first, _name(first_path), default_spacing)
    if positions is not None and len(slices) > 1:
        gaps = np.diff(np.sort(np.asarray(positions, float)))
        if np.any(gaps <= 1e-6):
            raise ValueError("two slices of the series share a position (duplicate files?)")
        slice_spacing = float(np.median(gaps))
    else:
        value = first.get("SpacingBetweenSlices") or first.get("SliceThickness")
        if value is None or float(value) <= 0:
            if default_spacing is None:
                raise ValueError(
                    "the series has no slice positions, SpacingBetweenSlices or SliceThickness; "
                    "pass default_spacing=... if you know the slice spacing"
                )
            value = default_spacing
        slice_spacing = float(value)
    position = first.get("ImagePositionPatient")
    origin = tuple(float(v) for v in reversed(position)) if position else (0.0, 0.0, 0.0)
    return Volume(
        np.stack(slices),
        (slice_spacing, row, column),
        origin=origin,
        modality=str(first.get("Modality", "")),
        series_uid=str(first.get("SeriesInstanceUID", "")),
        metadata=_safe_metadata(first),
    )


def write_dicom_series(
    volume: Volume,
    folder: str | os.PathLike,
    modality: str = "CT",
    series_uid: str | None = None,
    rescale_intercept: float = -1024.0,
    patient_name: str = "ANONYMOUS",
    patient_id: str = "",
) -> list[Path]:
    """Write a 3-D (or 2-D) Volume as a DICOM series, one file per slice (CT Image Storage).

    Values are stored as unsigned 16-bit integers ``v - rescale_intercept`` with slope 1, so
    integer-valued HU volumes in [intercept, intercept + 65535] come back exactly; other values
    raise ``ValueError`` rather than being silently rounded.
    """
    array = volume.array if volume.ndim == 3 else volume.array[np.newaxis]
    spacing = volume.spacing if volume.ndim == 3 else (1.0, *volume.spacing)
    stored = np.asarray(array, np.float64) - rescale_intercept
    if not np.all(np.isfinite(stored)):
        raise ValueError("the volume holds NaN or infinite values")
    if not np.allclose(stored, np.round(stored)) or stored.min() < 0 or stored.max() > 65535:
        raise ValueError(
            "write_dicom_series stores integer values in [intercept, intercept + 65535]; "
            "round the volume or change rescale_intercept"
        )
    stored = np.round(stored).astype(np.uint16)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study_uid, series_uid, frame_uid = generate_uid(), series_uid or generate_uid(), generate_uid()
    now = datetime.datetime.now()
    paths = []
    for k, pixels in enumerate(stored):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = folder / f"slice_{k:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (
            study_uid,
            series_uid,
            frame_uid,
        )
        ds.Modality = modality
        ds.PatientName, ds.PatientID = patient_name, patient_id
        ds.StudyDate = ds.SeriesDate = now.strftime("%Y%m%d")
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        z0, y0, x0 = (
            (volume.origin + (0.0,) * 3)[:3] if volume.ndim == 3 else (0.0, *volume.origin[:2])
        )
        ds.ImagePositionPatient = [x0, y0, z0 + k * spacing[0]]
        ds.SliceThickness = spacing[0]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit, ds.PixelRepresentation = 15, 0
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1, rescale_intercept, "HU"
        ds.PixelData = pixels.tobytes()
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def deidentify(ds: pydicom.Dataset, salt: str = "", replace_uids: bool = True) -> pydicom.Dataset:
    """Remove direct patient identifiers and private tags from ``ds`` (in place) and return it.

    UIDs are replaced by deterministic ones derived from the old UID and ``salt`` (so files of
    one series stay together), and PatientIdentityRemoved is set to YES.
    """
    for keyword in IDENTIFYING_TAGS:
        if keyword in ds:
            delattr(ds, keyword)
    ds.remove_private_tags()
    if replace_uids:
        for keyword in _UID_TAGS:
            if keyword in ds:
                setattr(ds, keyword, generate_uid(entropy_srcs=[str(ds.get(keyword)), salt]))
        if getattr(ds, "file_meta", None) is not None and "SOPInstanceUID" in ds:
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "dlsuite basic profile: identifiers, private tags removed"
    return ds


def deidentify_file(source: str | os.PathLike, target: str | os.PathLike, salt: str = "") -> Path:
    """Write a de-identified copy of a DICOM file (the source is left untouched)."""
    ds = read_dataset(source, pixels=False)
    ds = pydicom.dcmread(source)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    deidentify(ds, salt).save_as(target)
    return target

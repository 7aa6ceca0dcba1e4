"""``health.io``: one ``read`` for what people have (DICOM file or series folder, NIfTI, PNG/JPEG
X-ray), plus the DICOM, NIfTI, windowing and phantom helpers under one name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from health.io_dicom import (
    IDENTIFYING_TAGS,
    deidentify,
    deidentify_file,
    dicom_files,
    read_dicom_file,
    read_dicom_series,
    split_series,
    write_dicom_series,
)
from health.io_nifti import read_nifti, write_nifti
from health.phantoms import PhantomSet, make_phantoms, write_phantom_cases
from health.volume import Volume
from health.windowing import (
    WINDOW_PRESETS,
    apply_window,
    normalize,
    resample,
    resolve_window,
    window_tf,
)

__all__ = [
    "IDENTIFYING_TAGS",
    "WINDOW_PRESETS",
    "PhantomSet",
    "Volume",
    "apply_window",
    "deidentify",
    "deidentify_file",
    "dicom_files",
    "make_phantoms",
    "normalize",
    "read",
    "read_dicom_file",
    "read_dicom_series",
    "read_image",
    "read_nifti",
    "resample",
    "resolve_window",
    "split_series",
    "window_tf",
    "write_dicom_series",
    "write_nifti",
    "write_phantom_cases",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: str | os.PathLike, spacing: float = 1.0) -> Volume:
    """A PNG/JPEG/TIFF X-ray (or any grey image) -> 2-D Volume of raw intensities (RGB -> grey)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("F"), np.float32)
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path.name} is not a readable image ({type(error).__name__})") from None
    return Volume(array, (spacing, spacing), modality="DX")


def read(path: str | os.PathLike, **kwargs) -> Volume:
    """Read whatever medical image ``path`` is: a folder (DICOM series), .nii/.nii.gz, an image
    file (PNG/JPEG/TIFF), or a DICOM file (any other name)."""
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return read_dicom_series(path, **kwargs)
    if not path.exists():
        raise ValueError(f"no such file or folder: {path}")
    if name.endswith((".nii", ".nii.gz")):
        return read_nifti(path, **kwargs)
    if name.endswith(IMAGE_SUFFIXES):
        return read_image(path, **kwargs)
    return read_dicom_file(path, **kwargs)

"""NIfTI volumes with nibabel: (x, y, z) on disk, (z, y, x) ``Volume`` in memory, spacing kept.

The voxel axes are kept as stored (no reorientation); spacing comes from the header zooms and
the affine is kept in ``metadata["affine"]`` so a volume written back lands where it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np

from health.volume import Volume


def read_nifti(path: str | os.PathLike, allow_nan: bool = False, dtype=np.float32) -> Volume:
    """Read a .nii / .nii.gz file -> Volume (z, y, x) with spacing (mm) from the header.

    NaN or infinite voxels raise ``ValueError`` (they poison every later step) unless
    ``allow_nan``; 4-D files must have a single volume.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such NIfTI file: {path.name}")
    try:
        image = nib.load(path)
        data = np.asarray(image.dataobj)
    except Exception as error:  # nibabel raises many types for broken files
        raise ValueError(
            f"{path.name} is not a readable NIfTI file ({type(error).__name__})"
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim not in (2, 3):
        raise ValueError(f"{path.name} has shape {data.shape}; expected a 2-D or 3-D volume")
    zooms = [float(z) for z in image.header.get_zooms()[: data.ndim]]
    if any(z <= 0 or not np.isfinite(z) for z in zooms):
        raise ValueError(f"{path.name} has no valid voxel spacing (pixdim {zooms})")
    data = data.astype(dtype)
    if not allow_nan and np.issubdtype(data.dtype, np.floating) and not np.all(np.isfinite(data)):
        bad = int(np.sum(~np.isfinite(data)))
        raise ValueError(
            f"{path.name} holds {bad} NaN or infinite voxels; clean them or pass allow_nan=True"
        )
    array = data.T  # (x, y, z) -> (z, y, x)
    affine = np.asarray(image.affine, float)
    return Volume(
        np.ascontiguousarray(array),
        tuple(reversed(zooms)),
        origin=tuple(reversed(affine[: data.ndim, 3].tolist())),
        metadata={"affine": affine.tolist()},
    )


def write_nifti(
    volume: Volume | np.ndarray, path: str | os.PathLike, spacing=None, dtype=None
) -> Path:
    """Write a Volume (or an array with ``spacing`` in array order) as NIfTI; returns the path.

    Masks keep integer types (pass ``dtype=np.uint8``), images float32 unless told otherwise.
    """
    if not isinstance(volume, Volume):
        array = np.asarray(volume)
        volume = Volume(array, spacing if spacing is not None else (1.0,) * array.ndim)
    array = volume.array.astype(
        dtype or (volume.array.dtype if volume.array.dtype != np.float64 else np.float32)
    )
    zooms = list(reversed(volume.spacing))
    affine = np.eye(4)
    if "affine" in volume.metadata:
        affine = np.asarray(volume.metadata["affine"], float)
    else:
        affine[: len(zooms), : len(zooms)] = np.diag(zooms)
        affine[: len(zooms), 3] = list(reversed(volume.origin[: len(zooms)]))
    image = nib.Nifti1Image(np.ascontiguousarray(array.T), affine)
    image.header.set_zooms(zooms)
    image.header.set_xyzt_units("mm")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, path)
    return path

"""Synthetic CT phantoms: an elliptical body, an "organ" and lesions of varied size and contrast,
with partial-volume blur and Gaussian noise, in integer Hounsfield units; 2-D slices or 3-D
volumes, and helpers that write them as real DICOM series and NIfTI files.

Test and demo data only (DESIGN.md): quality claims come from real data in ``bench/``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from health.volume import Volume

CLASSES = ["background", "organ", "lesion"]
AIR_HU, BODY_HU, ORGAN_HU = -1000.0, 20.0, 70.0


@dataclasses.dataclass
class PhantomSet:
    """``images`` (N, *shape) float32 HU, ``masks`` (N, *shape) uint8 (0 background, 1 organ,
    2 lesion), ``labels`` (N,) 1 where a lesion is present, ``spacing`` in mm (array order)."""

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, ...]
    class_names: list[str] = dataclasses.field(default_factory=lambda: list(CLASSES))

    def __len__(self) -> int:
        return len(self.images)

    def volume(self, i: int) -> Volume:
        return Volume(self.images[i], self.spacing, modality="CT")


def _ellipsoid(grid: np.ndarray, center: np.ndarray, axes: np.ndarray, angle: float) -> np.ndarray:
    """Boolean ellipsoid on normalised coordinates ``grid`` (ndim, *shape); rotated in (y, x)."""
    d = grid - center.reshape(-1, *([1] * (grid.ndim - 1)))
    y, x = d[-2], d[-1]
    c, s = np.cos(angle), np.sin(angle)
    d = d.copy()
    d[-2], d[-1] = c * y - s * x, s * y + c * x
    return np.sum((d / axes.reshape(-1, *([1] * (grid.ndim - 1)))) ** 2, axis=0) <= 1.0


def make_phantom(
    shape: Sequence[int],
    rng: np.random.Generator,
    lesion: bool,
    noise: float = 12.0,
    max_lesions: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """One phantom (2-D or 3-D) -> (image HU float32 with integer values, mask uint8)."""
    from scipy import ndimage

    shape = tuple(int(n) for n in shape)
    ndim = len(shape)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    body = _ellipsoid(
        grid, rng.uniform(-0.05, 0.05, ndim), rng.uniform(0.8, 0.95, ndim), rng.uniform(0, np.pi)
    )
    organ_center = rng.uniform(-0.25, 0.25, ndim)
    organ_axes = rng.uniform(0.3, 0.5, ndim)
    organ = _ellipsoid(grid, organ_center, organ_axes, rng.uniform(0, np.pi)) & body
    image = np.where(body, BODY_HU, AIR_HU).astype(np.float32)
    organ_hu = ORGAN_HU + rng.uniform(-10, 10)
    image[organ] = organ_hu
    mask = organ.astype(np.uint8)
    if lesion:
        for _ in range(rng.integers(1, max_lesions + 1)):
            radius = rng.uniform(0.08, 0.2)
            offset = rng.uniform(-0.5, 0.5, ndim) * np.maximum(organ_axes - radius, 0.0)
            spot = _ellipsoid(
                grid,
                organ_center + offset,
                np.full(ndim, radius) * rng.uniform(0.8, 1.2, ndim),
                0.0,
            )
            spot &= organ
            contrast = rng.choice([-1.0, 1.0]) * rng.uniform(35.0, 80.0)
            image[spot] = organ_hu + contrast
            mask[spot] = 2
    image = ndimage.gaussian_filter(image, 0.6)  # partial-volume blur at edges
    image = image + rng.normal(0.0, noise, shape)
    return np.clip(np.round(image), -1024.0, 3071.0).astype(np.float32), mask


def make_phantoms(
    n: int = 64,
    shape: Sequence[int] = (64, 64),
    seed: int = 0,
    lesion_fraction: float = 0.5,
    spacing: Sequence[float] | None = None,
    noise: float = 12.0,
) -> PhantomSet:
    """``n`` phantoms of ``shape`` (2-D slices or 3-D volumes); a ``lesion_fraction`` of them
    carry one or two lesions (hypo- or hyper-dense, 35-80 HU contrast)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if len(shape) not in (2, 3) or min(shape) < 4:
        raise ValueError(f"phantom shape must be 2-D or 3-D with sides >= 4, got {tuple(shape)}")
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < lesion_fraction).astype(np.int64)
    pairs = [make_phantom(shape, rng, bool(label), noise) for label in labels]
    spacing = (
        tuple(spacing)
        if spacing is not None
        else ((0.8, 0.8) if len(shape) == 2 else (2.5, 0.8, 0.8))
    )
    labels = np.array([int((m == 2).any()) for _, m in pairs])  # a lesion may clip to nothing
    return PhantomSet(
        np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]), labels, spacing
    )


def write_phantom_cases(
    phantoms: PhantomSet, root: str | os.PathLike, dicom: bool = True
) -> list[Path]:
    """Write each phantom as ``root/case_XXX/`` with ``image.nii.gz``, ``mask.nii.gz`` and (3-D,
    ``dicom=True``) a ``dicom/`` series of real DICOM files; returns the case folders."""
    from health.io_dicom import write_dicom_series
    from health.io_nifti import write_nifti

    root = Path(root)
    cases = []
    for i in range(len(phantoms)):
        case = root / f"case_{i:03d}"
        write_nifti(Volume(phantoms.images[i], phantoms.spacing), case / "image.nii.gz")
        write_nifti(
            Volume(phantoms.masks[i], phantoms.spacing), case / "mask.nii.gz", dtype=np.uint8
        )
        if dicom:
            write_dicom_series(Volume(phantoms.images[i], phantoms.spacing), case / "dicom")
        cases.append(case)
    return cases

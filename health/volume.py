"""``Volume``: voxels plus the geometry that makes them medical (spacing in mm, origin, affine).

Arrays are (z, y, x) for volumes and (y, x) for single slices, float32, in Hounsfield units for
CT (or the scanner's raw intensities otherwise). Nothing patient-identifying is kept: the only
metadata are the modality, the series UID and the photometric interpretation, and the repr
shows geometry alone, so a Volume can be logged safely.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class Volume:
    """A 2-D slice or 3-D volume with spacing (mm, same axis order as ``array``)."""

    array: np.ndarray
    spacing: tuple[float, ...]
    origin: tuple[float, ...] = (0.0, 0.0, 0.0)
    modality: str = ""
    series_uid: str = ""
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        if self.array.ndim not in (2, 3):
            raise ValueError(
                f"a Volume holds a 2-D slice or a 3-D volume, got shape {self.array.shape}"
            )
        self.spacing = tuple(float(s) for s in self.spacing)
        if len(self.spacing) != self.array.ndim:
            raise ValueError(
                f"spacing {self.spacing} has {len(self.spacing)} values "
                f"for a {self.array.ndim}-D array"
            )
        if not all(np.isfinite(s) and s > 0 for s in self.spacing):
            raise ValueError(f"spacing must be positive millimetres, got {self.spacing}")
        self.origin = tuple(float(o) for o in self.origin)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def physical_size(self) -> tuple[float, ...]:
        """Extent in mm along each axis."""
        return tuple(n * s for n, s in zip(self.shape, self.spacing, strict=True))

    def __repr__(self) -> str:  # geometry only: never any patient data
        spacing = ", ".join(f"{s:.4g}" for s in self.spacing)
        return (
            f"Volume(shape={self.shape}, spacing=({spacing}) mm, dtype={self.array.dtype}, "
            f"modality={self.modality or '?'})"
        )

"""Medical training data: (image, mask) cases from arrays, phantoms or folders, patch sampling
that over-samples foreground (nnU-Net style), and CSV label files for classification.

An image is (*spatial) or (*spatial, channels) float in HU / raw intensities; a mask is an
integer label map of the same spatial shape.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from health.io import read
from health.phantoms import PhantomSet


@dataclasses.dataclass
class Cases:
    """Images and label maps (lists, sizes may differ) with the voxel spacing of each case."""

    images: list[np.ndarray]
    masks: list[np.ndarray]
    spacings: list[tuple[float, ...]]

    def __len__(self) -> int:
        return len(self.images)


def as_cases(data: Any, rank: int, channels: int = 1, num_classes: int | None = None) -> Cases:
    """(images, masks[, spacing]) pair, PhantomSet, Cases or a cases folder -> checked ``Cases``."""
    if isinstance(data, Cases):
        cases = data
    elif isinstance(data, PhantomSet):
        cases = Cases(list(data.images), list(data.masks), [data.spacing] * len(data))
    elif isinstance(data, (str, os.PathLike)):
        cases = load_case_folder(data)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        images, masks = list(data[0]), list(data[1])
        spacing = tuple(data[2]) if len(data) == 3 else (1.0,) * rank
        cases = Cases(images, masks, [spacing] * len(images))
    else:
        raise ValueError(
            "segmentation data must be (images, masks[, spacing]), a PhantomSet, "
            f"health.data.Cases or a folder of cases, got {type(data).__name__}"
        )
    if len(cases.images) != len(cases.masks):
        raise ValueError(f"{len(cases.images)} images but {len(cases.masks)} masks")
    if not len(cases):
        raise ValueError("the segmentation data is empty")
    images, masks = [], []
    for i, (image, mask) in enumerate(zip(cases.images, cases.masks, strict=True)):
        image = np.asarray(image, np.float32)
        if image.ndim == rank:
            image = image[..., None]
        if image.ndim != rank + 1 or image.shape[-1] != channels:
            raise ValueError(
                f"image {i} has shape {image.shape}; expected {rank}-D with {channels} channel(s)"
            )
        mask = np.asarray(mask)
        if mask.shape != image.shape[:rank]:
            raise ValueError(
                f"mask {i} has shape {mask.shape} but its image is {image.shape[:rank]}"
            )
        if not np.all(np.isfinite(image)):
            raise ValueError(f"image {i} holds NaN or infinite values")
        if (
            not np.all(np.equal(np.mod(mask, 1), 0))
            or mask.min() < 0
            or (num_classes and mask.max() >= num_classes)
        ):
            raise ValueError(
                f"mask {i} must hold class indices 0..{(num_classes or 1) - 1}, "
                f"got {mask.min()}..{mask.max()}"
            )
        images.append(image)
        masks.append(mask.astype(np.int32))
    return Cases(images, masks, [tuple(float(v) for v in s) for s in cases.spacings])


def load_case_folder(folder: str | os.PathLike) -> Cases:
    """``folder/<case>/`` each with ``mask.nii[.gz]`` and the image as ``image.nii[.gz]`` or a
    ``dicom/`` series (the layout ``write_phantom_cases`` writes)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no such folder of cases: {folder}")
    images, masks, spacings = [], [], []
    for case in sorted(p for p in folder.iterdir() if p.is_dir()):
        mask_path = next(
            (case / n for n in ("mask.nii.gz", "mask.nii") if (case / n).exists()), None
        )
        image_path = next(
            (case / n for n in ("image.nii.gz", "image.nii", "dicom") if (case / n).exists()), None
        )
        if mask_path is None or image_path is None:
            raise ValueError(f"case {case.name} needs mask.nii[.gz] and image.nii[.gz] or dicom/")
        image, mask = read(image_path), read(mask_path)
        if image.shape != mask.shape:
            raise ValueError(
                f"case {case.name}: mask shape {mask.shape} differs from image shape {image.shape}"
            )
        images.append(image.array)
        masks.append(np.rint(mask.array).astype(np.int32))
        spacings.append(image.spacing)
    if not images:
        raise ValueError(f"{folder} holds no case folders")
    return Cases(images, masks, spacings)


class PatchSampler:
    """Random patches of ``patch_size``; a ``foreground_fraction`` of them are centred on a
    foreground voxel (class > 0). With ``balance_classes`` the class is drawn first (each present
    class equally likely, as nnU-Net does), so small lesions are seen as often as large organs.

    ``regions`` (one boolean map per case, e.g. a retina's field of view) restricts the centres
    of the other patches; ``rotate`` adds random quarter turns in the last two axes (square
    in-plane patches only) to the in-plane flips of ``flip``. ``intensity_jitter`` ``j`` > 0 maps
    each image patch to ``a * patch + b`` with ``a ~ U(1 - j, 1 + j)`` and ``b ~ U(-j, j)`` (MONAI's
    random scale/shift intensity), so contrast that differs between scans is not learned as signal.
    """

    def __init__(
        self,
        cases: Cases,
        patch_size: Sequence[int],
        foreground_fraction: float = 0.33,
        flip: bool = True,
        seed: int = 0,
        regions: Sequence[np.ndarray] | None = None,
        rotate: bool = False,
        balance_classes: bool = False,
        intensity_jitter: float = 0.0,
    ):
        if not 0.0 <= foreground_fraction <= 1.0:
            raise ValueError(f"foreground_fraction must be in [0, 1], got {foreground_fraction}")
        if not isinstance(intensity_jitter, (int, float)) or not 0.0 <= intensity_jitter < 1.0:
            raise ValueError(
                f"intensity_jitter must be a number in [0, 1), got {intensity_jitter!r}"
            )
        self.intensity_jitter = float(intensity_jitter)
        self.cases, self.patch_size = cases, tuple(int(p) for p in patch_size)
        self.foreground_fraction, self.flip = float(foreground_fraction), flip
        if rotate and self.patch_size[-1] != self.patch_size[-2]:
            raise ValueError(f"rotate needs square in-plane patches, got {self.patch_size}")
        self.rotate = rotate
        self.rng = np.random.default_rng(seed)
        if balance_classes:
            self.foreground = [
                [np.argwhere(m == k) for k in np.unique(m) if k > 0] for m in cases.masks
            ]
        else:
            self.foreground = [[np.argwhere(m > 0)] if (m > 0).any() else [] for m in cases.masks]
        self.centres: list[np.ndarray | None] = [None] * len(cases)
        if regions is not None:
            if len(regions) != len(cases):
                raise ValueError(f"{len(regions)} regions for {len(cases)} cases")
            for i, (region, mask) in enumerate(zip(regions, cases.masks, strict=True)):
                if np.shape(region) != mask.shape:
                    raise ValueError(
                        f"region {i} has shape {np.shape(region)} but its mask is {mask.shape}"
                    )
                self.centres[i] = np.argwhere(np.asarray(region, bool))
                if not len(self.centres[i]):
                    raise ValueError(f"region {i} selects no voxels")

    def _padded(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self.cases.images[i], self.cases.masks[i]
        pad = [(0, max(0, p - s)) for p, s in zip(self.patch_size, mask.shape, strict=True)]
        if any(p[1] for p in pad):
            image = np.pad(image, [*pad, (0, 0)], mode="symmetric")
            mask = np.pad(mask, pad, mode="symmetric")
        return image, mask

    def _centred(self, centre: np.ndarray, shape: tuple[int, ...]) -> list[int]:
        return [
            int(np.clip(c - p // 2, 0, s - p))
            for c, p, s in zip(centre, self.patch_size, shape, strict=True)
        ]

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One (patch (*patch_size, C), mask patch (*patch_size)) pair."""
        i = int(self.rng.integers(len(self.cases)))
        image, mask = self._padded(i)
        shape = mask.shape
        if self.rng.random() < self.foreground_fraction and self.foreground[i]:
            groups = self.foreground[i]
            voxels = groups[int(self.rng.integers(len(groups)))] if len(groups) > 1 else groups[0]
            start = self._centred(voxels[self.rng.integers(len(voxels))], shape)
        elif self.centres[i] is not None:
            start = self._centred(self.centres[i][self.rng.integers(len(self.centres[i]))], shape)
        else:
            start = [
                int(self.rng.integers(0, s - p + 1))
                for p, s in zip(self.patch_size, shape, strict=True)
            ]
        window = tuple(slice(a, a + p) for a, p in zip(start, self.patch_size, strict=True))
        patch, labels = image[window], mask[window]
        rank = len(self.patch_size)
        if self.flip:
            for axis in range(rank - 2, rank):  # in-plane flips
                if self.rng.random() < 0.5:
                    patch, labels = np.flip(patch, axis), np.flip(labels, axis)
        if self.rotate:
            turns = int(self.rng.integers(4))
            patch, labels = (
                np.rot90(patch, turns, (rank - 2, rank - 1)),
                np.rot90(labels, turns, (rank - 2, rank - 1)),
            )
        if self.intensity_jitter:
            j = self.intensity_jitter
            patch = patch * self.rng.uniform(1 - j, 1 + j) + self.rng.uniform(-j, j)
        return np.ascontiguousarray(patch, dtype=image.dtype), np.ascontiguousarray(labels)


def read_label_csv(
    path: str | os.PathLike,
    classes: Sequence[str] | None = None,
    image_column: str = "image",
    label_column: str = "label",
) -> tuple[list[Path], list[Any], list[str]]:
    """CSV with an image-path column and a label column (``a|b`` for several findings) -> (paths,
    labels, classes). Relative paths are taken from the CSV's folder."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such CSV file: {path}")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or image_column not in rows[0] or label_column not in rows[0]:
        raise ValueError(
            f"{path.name} needs a header with {image_column!r} and {label_column!r} columns"
        )
    found = sorted({name for row in rows for name in row[label_column].split("|") if name})
    classes = list(classes) if classes else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ValueError(
            f"{path.name} has labels {unknown} that are not among the classes {classes}"
        )
    paths = [(path.parent / row[image_column]) for row in rows]
    labels = [row[label_column] for row in rows]
    return paths, labels, classes

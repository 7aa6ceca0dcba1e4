"""Patch sampling (regions, class-balanced foreground, flips + quarter turns) and CLAHE."""

from __future__ import annotations

import numpy as np
import pytest

from health.data import Cases, PatchSampler
from health.windowing import clahe


def _cases(image: np.ndarray, mask: np.ndarray) -> Cases:
    return Cases([image.astype(np.float32)[..., None]], [mask.astype(np.int32)], [(1.0, 1.0)])


def test_random_patches_are_centred_inside_the_region():
    coords = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)  # a pixel's value names its place
    region = np.zeros((64, 64), bool)
    region[30:34, 20:26] = True
    sampler = PatchSampler(
        _cases(coords, np.zeros((64, 64))),
        (8, 8),
        foreground_fraction=0.0,
        flip=False,
        regions=[region],
    )
    for _ in range(50):
        patch, _ = sampler.sample()
        centre = int(patch[4, 4, 0])
        assert region[centre // 64, centre % 64]
    with pytest.raises(ValueError, match="region 0 selects no voxels"):
        PatchSampler(_cases(coords, np.zeros((64, 64))), (8, 8), regions=[np.zeros((64, 64), bool)])
    with pytest.raises(ValueError, match="1 regions for 2 cases"):
        two = Cases([coords[..., None]] * 2, [np.zeros((64, 64), np.int32)] * 2, [(1.0, 1.0)] * 2)
        PatchSampler(two, (8, 8), regions=[region])


def test_foreground_patches_visit_every_class_equally_often():
    mask = np.zeros((64, 64))
    mask[:20, :20] = 1  # a big organ ...
    mask[55, 55] = 2  # ... and a one-pixel lesion far from it
    sampler = PatchSampler(
        _cases(mask, mask), (8, 8), foreground_fraction=1.0, seed=3, balance_classes=True
    )
    with_lesion = np.mean([(sampler.sample()[1] == 2).any() for _ in range(300)])
    assert 0.38 < with_lesion < 0.62  # voxel-uniform sampling would give ~1 / 401


def test_flips_and_quarter_turns_keep_image_and_labels_aligned():
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, (16, 16))
    sampler = PatchSampler(
        _cases(mask * 10.0, mask), (16, 16), foreground_fraction=0.0, flip=True, rotate=True
    )
    seen = set()
    for _ in range(200):
        patch, labels = sampler.sample()
        np.testing.assert_array_equal(patch[..., 0], labels * 10.0)
        seen.add(labels.tobytes())
    assert len(seen) == 8  # the 8 symmetries of the square
    with pytest.raises(ValueError, match="square in-plane patches"):
        PatchSampler(_cases(mask, mask), (8, 16), rotate=True)


def test_intensity_jitter_is_an_affine_map_within_its_range_and_leaves_labels_alone():
    rng = np.random.default_rng(1)
    image, mask = rng.normal(size=(16, 16)), rng.integers(0, 2, (16, 16))
    sampler = PatchSampler(
        _cases(image, mask), (16, 16), foreground_fraction=0.0, flip=False, intensity_jitter=0.2
    )
    scales = []
    for _ in range(50):
        patch, labels = sampler.sample()
        np.testing.assert_array_equal(labels, mask)
        a, b = np.polyfit(image.ravel(), patch[..., 0].ravel().astype(np.float64), 1)
        assert 0.8 - 1e-4 <= a <= 1.2 + 1e-4 and -0.2 - 1e-4 <= b <= 0.2 + 1e-4
        scales.append(a)
    assert np.std(scales) > 0.05 and patch.dtype == np.float32  # it varies, and keeps the dtype
    plain = PatchSampler(_cases(image, mask), (16, 16), foreground_fraction=0.0, flip=False)
    np.testing.assert_array_equal(plain.sample()[0][..., 0], image.astype(np.float32))
    for bad in (1.5, -0.1, "0.2", None):
        with pytest.raises(ValueError, match="intensity_jitter"):
            PatchSampler(_cases(image, mask), (16, 16), intensity_jitter=bad)


def test_clahe_without_clipping_on_one_tile_is_histogram_equalisation():
    image = np.repeat(np.arange(4.0), 4).reshape(4, 4)  # levels 0..3, four pixels each
    out = clahe(image, tiles=(1, 1), clip_limit=100.0, bins=4)
    np.testing.assert_allclose(out, np.repeat([0.25, 0.5, 0.75, 1.0], 4).reshape(4, 4), atol=1e-6)


def test_clahe_raises_local_contrast_and_ignores_pixels_outside_the_mask():
    rng = np.random.default_rng(1)
    image = np.concatenate([rng.normal(10, 1, (64, 32)), rng.normal(200, 30, (64, 32))], axis=1)
    out = clahe(image, tiles=(2, 2))
    assert out.shape == image.shape and 0.0 <= out.min() and out.max() <= 1.0
    global_left = ((image - image.min()) / np.ptp(image))[:, :16].std()
    strong = clahe(image, tiles=(2, 2), clip_limit=40.0)
    assert strong[:, :16].std() > 5 * global_left  # the faint left half gets its own contrast ...
    assert global_left < out[:, :16].std() < strong[:, :16].std() / 2  # ... limited by clip_limit
    mask = np.zeros(image.shape, bool)
    mask[8:56, 8:56] = True
    changed = image.copy()
    changed[~mask] = 0.0
    np.testing.assert_allclose(
        clahe(changed, mask=mask)[mask], clahe(image, mask=mask)[mask], atol=1e-6
    )
    with pytest.raises(ValueError, match="2-D image"):
        clahe(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="selects no pixels"):
        clahe(image, mask=np.zeros(image.shape, bool))

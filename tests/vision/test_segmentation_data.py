"""Segmentation loaders: palette / index PNG mask folders, TFDS oxford_iiit_pet mock data, bad
masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vision.segmentation.data import load_mask_folder, load_tfds_segmentation, make_shape_masks


def _write_pair(root, name, mask, mode="P", size=None):
    (root / "images").mkdir(exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    height, width = size or mask.shape
    Image.fromarray(np.full((height, width, 3), 120, np.uint8)).save(
        root / "images" / f"{name}.jpg"
    )
    picture = Image.fromarray(mask.astype(np.uint8), mode="L")
    if mode == "P":
        picture = picture.convert("P")
        picture.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    elif mode == "RGB":
        picture = picture.convert("RGB")
    picture.save(root / "masks" / f"{name}.png")


def test_mask_folder_reads_palette_and_index_pngs(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:20] = 2
    mask[12:, :4] = 1
    _write_pair(tmp_path, "a", mask, "P")
    _write_pair(tmp_path, "b", mask.T.copy(), "L")
    data = load_mask_folder(tmp_path / "images", tmp_path / "masks", ["bg", "x", "y"])
    assert len(data) == 2
    np.testing.assert_array_equal(data.masks[0], mask)
    np.testing.assert_array_equal(data.masks[1], mask.T)
    assert data.images[1].shape == (30, 20, 3)
    assert load_mask_folder(tmp_path / "images", tmp_path / "masks").class_names == ["0", "1", "2"]
    example = next(iter(data.to_dataset()))
    assert example["mask"].shape == (20, 30)


def test_bad_mask_folders_are_rejected(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    _write_pair(tmp_path, "a", mask, "L", size=(21, 30))
    with pytest.raises(ValueError, match="differs from its image"):
        load_mask_folder(tmp_path / "images", tmp_path / "masks")
    _write_pair(tmp_path, "a", np.full((20, 30), 5, np.uint8), "L")
    with pytest.raises(ValueError, match=r"values \[5\]"):
        load_mask_folder(tmp_path / "images", tmp_path / "masks", ["bg", "fg"])
    _write_pair(tmp_path, "a", mask, "RGB")
    with pytest.raises(ValueError, match="not a class-index image"):
        load_mask_folder(tmp_path / "images", tmp_path / "masks")
    (tmp_path / "masks" / "a.png").unlink()
    with pytest.raises(ValueError, match="no mask"):
        load_mask_folder(tmp_path / "images", tmp_path / "masks")


def test_tfds_oxford_pet_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=2):
        dataset, names = load_tfds_segmentation("oxford_iiit_pet", "train")
        examples = list(dataset.take(2))
    assert names == ["pet", "background", "border"]
    for example in examples:
        # mock_data draws image and mask shapes independently; real files pair them.
        assert example["mask"].shape.rank == 2 and example["image"].shape[-1] == 3
        assert example["mask"].dtype.name == "int32"
    with pytest.raises(ValueError, match="oxford_iiit_pet"):
        load_tfds_segmentation("mnist")


def test_synthetic_masks_match_their_classes():
    data = make_shape_masks(5, 48, seed=0)
    assert data.class_names == ["background", "circle", "square", "triangle"]
    assert all(m.shape == (48, 48) and m.max() <= 3 for m in data.masks)
    assert any((m > 0).any() for m in data.masks)

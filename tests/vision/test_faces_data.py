"""Face loaders on small LFW-style and ORL (Olivetti) folders written here; synthetic faces."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vision.faces.data import load_face_folder, make_faces


def _write(path, seed: int, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (20, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path)


def test_lfw_layout_with_min_images(tmp_path):
    for i in range(3):
        _write(tmp_path / "George_Bush" / f"George_Bush_000{i + 1}.jpg", i)
    _write(tmp_path / "Ada_Lovelace" / "Ada_Lovelace_0001.jpg", 9)
    (tmp_path / "George_Bush" / "notes.txt").write_text("not an image")
    faces = load_face_folder(tmp_path, image_size=24)
    assert faces.images.shape == (4, 24, 24, 3) and faces.images.dtype == np.uint8
    assert faces.names == ["Ada_Lovelace"] + ["George_Bush"] * 3
    assert load_face_folder(tmp_path, 24, min_images=2).identities == ["George_Bush"]


def test_orl_olivetti_pgm_layout(tmp_path):
    for person in (1, 2):
        for n in (1, 2):
            _write(tmp_path / f"s{person}" / f"{n}.pgm", 10 * person + n, mode="L")
    faces = load_face_folder(tmp_path, image_size=16)
    assert faces.identities == ["s1", "s2"] and len(faces) == 4
    grey = faces.images[0]
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])  # grey PGM -> equal RGB channels
    assert len(faces.select({"s2"})) == 2


def test_bad_folders_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="face folder not found"):
        load_face_folder(tmp_path / "missing")
    (tmp_path / "empty_person").mkdir()
    with pytest.raises(ValueError, match="no face images"):
        load_face_folder(tmp_path)
    (tmp_path / "empty_person" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="cannot read face image .*broken.jpg"):
        load_face_folder(tmp_path)


def test_make_faces_is_seeded_and_identities_differ():
    faces = make_faces(identities=3, per_identity=4, image_size=24, seed=5)
    again = make_faces(identities=3, per_identity=4, image_size=24, seed=5)
    np.testing.assert_array_equal(faces.images, again.images)
    assert faces.images.shape == (12, 24, 24, 3) and faces.identities == [
        "person_00", "person_01", "person_02",
    ]  # fmt: skip
    mean = {n: faces.select({n}).images.astype(float).mean(axis=0) for n in faces.identities}
    within = np.abs(faces.select({"person_00"}).images.astype(float) - mean["person_00"]).mean()
    between = np.abs(mean["person_00"] - mean["person_01"]).mean()
    assert between > 0.5 * within
    with pytest.raises(ValueError, match="image_size >= 16"):
        make_faces(image_size=8)

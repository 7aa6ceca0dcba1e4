"""vision.FaceRecognizer on synthetic faces: unseen people, enroll/identify/verify, export."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import serve_in_fresh_tensorflow


@pytest.fixture(scope="module")
def faces():
    from vision.faces.data import make_faces

    everyone = make_faces(identities=30, per_identity=6, image_size=24, seed=0)
    return everyone.select(everyone.identities[:24]), everyone.select(everyone.identities[24:])


@pytest.fixture(scope="module")
def recognizer(faces):
    from vision import FaceRecognizer

    train, _ = faces
    task = FaceRecognizer(
        classes=train.identities,
        image_size=24,
        widths=[16, 32],
        flip=None,
        rotation=0.0,
        embedding_dim=32,
        batch_size=16,
    )
    task.fit(train, epochs=10, verbose=0)
    return task


def test_unseen_people_are_told_apart(recognizer, faces):
    _, unseen = faces
    report = recognizer.evaluate(unseen, enroll_per_identity=2)
    assert report["trials"] == 36 * 35 // 2 and report["target_trials"] == 6 * 15
    assert report["eer"] < 0.3  # chance is 0.5; about 0.15 on the loaded dev machine
    assert report["identification_accuracy"] > 0.6  # 24 probes among 6 people: chance 1/6
    assert 0.0 <= report["min_dcf"] <= 1.0


def test_enroll_identify_verify(recognizer, faces):
    _, unseen = faces
    a, b = unseen.identities[:2]
    people = {name: unseen.select({name}).images for name in (a, b)}
    recognizer.gallery = type(recognizer.gallery)()
    recognizer.enroll(a, list(people[a][:3]))
    recognizer.enroll(b, list(people[b][:3]))
    found = recognizer.identify(list(people[a][3:]) + list(people[b][3:]))
    assert [r["identity"] for r in found].count(a) >= 2
    same = recognizer.verify(people[a][4], a, threshold=-1.0)
    assert same["same"] and -1.0 <= same["score"] <= 1.0
    own = recognizer.verify(people[a][4], a)["score"]
    other = recognizer.verify(people[a][4], b)["score"]
    assert own > other
    result = recognizer.predict(people[b][5])
    assert result["embedding"].shape == (32,) and result["identity"] in (a, b)


@pytest.mark.slow  # a fresh TensorFlow process
def test_save_load_and_export_match_predict(recognizer, faces, tmp_path):
    from vision import FaceRecognizer
    from vision.images import encode_png

    _, unseen = faces
    if not len(recognizer.gallery):
        recognizer.enroll(unseen.identities[0], list(unseen.images[:2]))
    loaded = FaceRecognizer.load(recognizer.save(tmp_path / "faces.keras"))
    assert loaded.gallery.names == recognizer.gallery.names
    np.testing.assert_allclose(
        loaded.embed(list(unseen.images[:3])), recognizer.embed(list(unseen.images[:3])), atol=1e-5
    )
    payload = np.array([encode_png(image) for image in unseen.images[:4]], bytes)
    served = serve_in_fresh_tensorflow(
        recognizer.export(tmp_path / "export"), {"image_bytes": payload}, tmp_path
    )
    expected = recognizer.predict(list(payload))
    np.testing.assert_allclose(served["embedding"], [e["embedding"] for e in expected], atol=1e-4)
    assert [n.decode() for n in served["identity"]] == [e["identity"] for e in expected]
    np.testing.assert_allclose(served["score"], [e["score"] for e in expected], atol=1e-5)


def test_bad_input_names_the_problem(recognizer):
    from vision import FaceRecognizer

    with pytest.raises(ValueError, match="is not enrolled"):
        recognizer.verify(np.zeros((24, 24, 3), np.uint8), "nobody")
    empty = FaceRecognizer(classes=["a", "b"], widths=[16, 32])
    with pytest.raises(ValueError, match="gallery is empty"):
        empty.identify(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="face data must be"):
        empty.evaluate(42)
    with pytest.raises(ValueError, match="at least two classes"):
        FaceRecognizer(classes=["only"])
    with pytest.raises(ValueError, match="unknown labels"):
        empty.fit((np.zeros((2, 32, 32, 3), np.uint8), ["a", "zed"]), epochs=1, verbose=0)

"""ImageClassifier: learning, predict inputs, save/load, export parity (new process), bad input."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from common.export import non_core_ops, read_warmup_requests
from tests.common.report_checks import check_evaluation_report
from tests.conftest import run_fresh_tensorflow
from vision import ImageClassifier
from vision.images import encode_png


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.mark.slow
def test_short_training_on_digits_reaches_95_percent(trained_digits, digits_split):
    _, _, test = digits_split
    report = trained_digits.evaluate(test)
    assert report["accuracy"] >= 0.95
    assert report["num_examples"] == len(test[1])
    assert set(report["per_class"]) == {str(d) for d in range(10)}
    assert "top_3_accuracy" in report and report["top_3_accuracy"] >= report["accuracy"]


def test_evaluate_writes_confusion_matrix_png(trained_digits, digits_split, tmp_path):
    _, _, (x_test, y_test) = digits_split
    test, other = (x_test[:50], y_test[:50]), (x_test[50:80], y_test[50:80])
    report = check_evaluation_report(
        trained_digits, test, other, tmp_path, ["confusion_matrix.png"]
    )
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 1000
    assert np.array(report["confusion_matrix"]).sum() == 50
    assert report["confusion_matrix_png"] == str(tmp_path / "confusion_matrix.png")


def test_predict_accepts_paths_bytes_pil_and_arrays_alike(trained_digits, digits_split, tmp_path):
    _, _, (x_test, _) = digits_split
    gray = x_test[0][..., 0]  # (8, 8) uint8
    png = encode_png(gray)
    path = tmp_path / "digit.png"
    path.write_bytes(png)
    results = trained_digits.predict([str(path), png, Image.fromarray(gray), gray, gray[..., None]])
    labels = {r["label"] for r in results}
    assert len(labels) == 1
    scores = np.array([r["score"] for r in results])
    np.testing.assert_allclose(scores, scores[0], atol=1e-5)
    assert len(results[0]["top_k"]) == 3
    assert results[0]["top_k"][0]["score"] >= results[0]["top_k"][1]["score"]


def test_grayscale_input_is_converted_not_rejected(trained_digits):
    gray = np.full((20, 20), 128, np.uint8)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    from_gray, from_rgb = trained_digits.predict(gray), trained_digits.predict(rgb)
    assert from_gray["label"] == from_rgb["label"]
    assert from_gray["score"] == pytest.approx(from_rgb["score"], abs=1e-6)


def test_bad_inputs_give_clear_errors(trained_digits, tmp_path):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg"):
        trained_digits.predict([str(corrupt)])
    with pytest.raises(ValueError, match="empty"):
        trained_digits.predict([])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        trained_digits.predict(np.zeros((8, 8, 5)))
    with pytest.raises(ValueError, match="not found"):
        trained_digits.predict([str(tmp_path / "missing.png")])
    with pytest.raises(ValueError, match="NaN"):
        trained_digits.predict(np.full((8, 8), np.nan))


def test_fit_rejects_unknown_labels_and_mismatched_lengths():
    task = ImageClassifier(classes=["a", "b"], image_size=16, widths=[8])
    images = np.zeros((4, 16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="unknown labels"):
        task.fit((images, ["a", "b", "c", "a"]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        task.fit((images, [0, 1, 0]), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"label indices must be in \[0, 1\]"):
        task.fit((images, [0, 1, 2, 0]), epochs=1, verbose=0)


def test_config_is_validated_and_json_serialisable():
    task = ImageClassifier(classes=["cat", "dog"], image_size=24)
    assert json.loads(task.config.to_json())["classes"] == ["cat", "dog"]
    with pytest.raises(ValueError, match="unknown option"):
        ImageClassifier(classes=["a", "b"], colour="blue")
    with pytest.raises(ValueError, match="at least two classes"):
        ImageClassifier(classes=["only"])
    with pytest.raises(ValueError, match="backbone must be one of"):
        ImageClassifier(classes=["a", "b"], backbone="vgg99")


def test_save_load_round_trip_keeps_classes_and_predictions(trained_digits, digits_split, tmp_path):
    _, _, (x_test, _) = digits_split
    path = trained_digits.save(tmp_path / "digits.keras")
    restored = ImageClassifier.load(path)
    assert restored.config == trained_digits.config
    before = trained_digits.predict_proba(x_test[:16])
    np.testing.assert_allclose(restored.predict_proba(x_test[:16]), before, atol=1e-6)
    assert list(tmp_path.iterdir()) == [path]  # no staging file left behind


def test_load_refuses_other_files(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_text("hello")
    with pytest.raises(ValueError, match="not a .keras file"):
        ImageClassifier.load(junk)
    with pytest.raises(ValueError, match="no such task file"):
        ImageClassifier.load(tmp_path / "absent.keras")


@pytest.mark.slow
def test_export_matches_predict_in_a_process_without_keras(trained_digits, digits_split, tmp_path):
    _, _, (x_test, _) = digits_split
    images = [
        np.repeat(np.kron(x_test[i], np.ones((4, 4, 1))), 3, -1).astype(np.uint8) for i in range(6)
    ]
    payload = [_jpeg(image) for image in images]
    version_dir = trained_digits.export(tmp_path / "digits")
    assert version_dir.name == "1"
    expected = trained_digits.predict(payload)

    (tmp_path / "payload.json").write_text(json.dumps([p.hex() for p in payload]))
    out = run_fresh_tensorflow(f"""
        import json
        payload = [bytes.fromhex(h) for h in json.load(open({str(tmp_path / "payload.json")!r}))]
        fn = tf.saved_model.load({str(version_dir)!r}).signatures["serving_default"]
        result = fn(image_bytes=tf.constant(payload))
        classes = [[c.decode() for c in row] for row in result["classes"].numpy()]
        print(json.dumps({{"classes": classes, "scores": result["scores"].numpy().tolist()}}))
    """)
    served = json.loads(out.strip().splitlines()[-1])
    for got_classes, got_scores, want in zip(
        served["classes"], served["scores"], expected, strict=True
    ):
        assert got_classes[0] == want["label"]
        np.testing.assert_allclose(got_scores, [t["score"] for t in want["top_k"]], atol=1e-5)
    assert non_core_ops(version_dir) == []
    (warmup,) = read_warmup_requests(version_dir)
    assert set(warmup) == {"image_bytes"}


@pytest.mark.slow
def test_small_resnet_alternatives_build_and_round_trip(tmp_path):
    for backbone in ("mobilenet_v3_small", "efficientnet_v2_b0"):
        task = ImageClassifier(classes=["a", "b", "c"], image_size=32, backbone=backbone)
        image = np.random.default_rng(0).integers(0, 255, (32, 32, 3)).astype(np.uint8)
        before = task.predict_proba(image)
        assert before.shape == (1, 3)
        restored = ImageClassifier.load(task.save(tmp_path / f"{backbone}.keras"))
        np.testing.assert_allclose(restored.predict_proba(image), before, atol=1e-5)

"""ObjectDetector: learns easy shapes, predict inputs, save/load, export parity (fresh process)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.export import non_core_ops, read_warmup_requests
from tests.common.report_checks import check_evaluation_report
from tests.conftest import run_fresh_tensorflow, trained_on
from vision import ObjectDetector, draw_detections
from vision.detection.data import make_shape_scenes
from vision.images import encode_png

SCENES = {"max_objects": 3, "min_size": 0.2, "max_size": 0.5}


@pytest.fixture(scope="module")
def detector_and_val():
    train = make_shape_scenes(200, 96, seed=1, **SCENES)
    val = make_shape_scenes(40, 96, seed=2, **SCENES)
    options = {"widths": [16, 24, 32, 48, 64], "fpn_width": 32, "head_convs": 1}
    detector = trained_on(
        train, ObjectDetector, 10, image_size=96, batch_size=16, learning_rate=1e-2, **options
    )
    return detector, val


@pytest.mark.slow
def test_short_training_on_shapes_reaches_map50_of_half(detector_and_val):
    detector, val = detector_and_val
    report = detector.evaluate(val)
    assert report["mAP_50"] >= 0.5, report
    assert report["mAP_75"] <= report["mAP_50"] and report["mAP"] <= report["mAP_50"]
    assert set(report["per_class"]) == {"circle", "square", "triangle"}
    assert report["num_images"] == 40 and report["num_objects"] == val.num_boxes


def test_evaluate_writes_the_report_and_sample_pictures(tmp_path, detector_and_val):
    detector, val = detector_and_val
    other = make_shape_scenes(2, 96, seed=9, **SCENES)
    pictures = [f"detections_{i}.png" for i in range(4)]
    report = check_evaluation_report(detector, val, other, tmp_path, pictures)
    assert report["num_images"] == 40 and "confusion_matrix_png" not in report


def test_predict_returns_pixel_boxes_of_the_original_image(detector_and_val, tmp_path):
    detector, val = detector_and_val
    image = val.images[0]
    big = np.repeat(np.repeat(image, 2, axis=0), 3, axis=1)  # 192 x 288: boxes must scale
    small, large = (
        detector.predict(image, score_threshold=0.3),  # one image in, one result out
        detector.predict(big, score_threshold=0.3),
    )
    assert len(small["boxes"]) >= 1
    assert set(small["labels"]) <= {"circle", "square", "triangle"}
    np.testing.assert_allclose(
        large["boxes"][: len(small["boxes"])], small["boxes"] * [2, 3, 2, 3], atol=6.0
    )
    assert (np.diff(small["scores"]) <= 1e-6).all()
    path = tmp_path / "scene.png"
    path.write_bytes(encode_png(image))
    from_path, from_bytes = detector.predict([str(path), encode_png(image)])
    (listed,) = detector.predict([image], score_threshold=0.3)  # a list in, a list out
    np.testing.assert_allclose(listed["boxes"], small["boxes"], atol=1e-4)
    assert len(detector.predict(np.stack([image, image]))) == 2  # (N, H, W, C): N images
    np.testing.assert_allclose(from_path["boxes"], from_bytes["boxes"], atol=1e-4)
    png = draw_detections(image, small, path=tmp_path / "drawn.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "drawn.png").stat().st_size == len(png)


def test_save_load_round_trip(detector_and_val, tmp_path):
    detector, val = detector_and_val
    detector.save(tmp_path / "det.keras")
    loaded = ObjectDetector.load(tmp_path / "det.keras")
    assert loaded.classes == detector.classes
    (a,), (b,) = detector.predict([val.images[1]]), loaded.predict([val.images[1]])
    np.testing.assert_allclose(a["boxes"], b["boxes"], atol=1e-3)


@pytest.mark.slow
def test_export_matches_predict_in_fresh_process_with_core_ops_only(detector_and_val, tmp_path):
    detector, val = detector_and_val
    version = detector.export(tmp_path / "detector")
    assert non_core_ops(version) == []
    assert read_warmup_requests(version)[0]["image_bytes"].shape == (1,)
    images = [val.images[3], np.pad(val.images[4], ((0, 20), (0, 0), (0, 0)))]  # 96x96 and 116x96
    payload = [encode_png(image) for image in images]
    (tmp_path / "payload.json").write_text(json.dumps([p.hex() for p in payload]))
    out = run_fresh_tensorflow(f"""
        import json, numpy as np
        payload = [bytes.fromhex(h) for h in json.load(open({str(tmp_path / "payload.json")!r}))]
        serve = tf.saved_model.load({str(version)!r}).signatures["serving_default"]
        result = {{k: v.numpy() for k, v in serve(image_bytes=tf.constant(payload)).items()}}
        text = lambda v: [[s.decode() for s in row] for row in v]
        print(json.dumps({{k: v.tolist() if v.dtype != object else text(v)
                          for k, v in result.items()}}))
    """)
    served = json.loads(out.strip().splitlines()[-1])
    assert set(served) >= {
        "detection_boxes",
        "detection_scores",
        "detection_classes",
        "num_detections",
    }
    for j, (image, result) in enumerate(
        zip(images, detector.predict(payload, score_threshold=0.0), strict=True)
    ):
        n = int(served["num_detections"][j])
        assert n == len(result["boxes"])
        height, width = image.shape[:2]
        boxes = np.array(served["detection_boxes"][j][:n]) * [height, width, height, width]
        np.testing.assert_allclose(boxes, result["boxes"], atol=1e-2)
        np.testing.assert_allclose(served["detection_scores"][j][:n], result["scores"], atol=1e-4)
        assert [int(c) - 1 for c in served["detection_classes"][j][:n]] == result[
            "classes"
        ].tolist()
        assert served["detection_class_names"][j][:n] == result["labels"]


def test_bad_inputs_and_options_give_clear_errors(detector_and_val, tmp_path):
    detector, _ = detector_and_val
    with pytest.raises(ValueError, match="empty"):
        detector.predict([])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="broken.jpg"):
        detector.predict([str(broken)])
    with pytest.raises(ValueError, match="multiple of the largest stride 32"):
        ObjectDetector(classes=["a"], image_size=100)
    with pytest.raises(ValueError, match="unique"):
        ObjectDetector(classes=["a", "a"])
    with pytest.raises(ValueError, match="differ from the detector"):
        detector.make_dataset(
            make_shape_scenes(2, 64)
            .subset([0])
            .__class__([np.zeros((8, 8, 3))], [np.zeros((0, 4))], [np.zeros(0)], ["x", "y", "z"]),
            batch_size=2,
            training=False,
        )


def test_images_without_objects_train_as_background():
    scenes = make_shape_scenes(8, 64, seed=3, max_objects=1)
    empty = type(scenes)(
        [np.zeros((64, 64, 3), np.uint8)] * 4,
        [np.zeros((0, 4))] * 4,
        [np.zeros(0)] * 4,
        scenes.class_names,
    )
    detector = ObjectDetector(
        classes=scenes.class_names,
        image_size=64,
        widths=[8, 8, 8, 8, 8],
        fpn_width=16,
        head_convs=1,
    )
    _, targets = next(iter(detector.make_dataset(empty, 4, training=True)))
    assert targets.shape == (4, 64 + 16 + 4, 8) and not targets.numpy().any()

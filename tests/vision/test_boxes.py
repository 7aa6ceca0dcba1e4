"""Box geometry: encode/decode round trip, FCOS target assignment, IoU, in-graph NMS, box losses."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from vision.detection import boxes as B
from vision.detection.losses import DenseDetectionLoss, giou_boxes, giou_distances, smooth_l1


def test_feature_points_cover_every_level_in_order():
    p = B.feature_points(64, [8, 16, 32])
    assert p["points"].shape == (64 + 16 + 4, 2)
    np.testing.assert_array_equal(p["points"][0], [4.0, 4.0])
    np.testing.assert_array_equal(p["points"][64], [8.0, 8.0])
    assert list(np.unique(p["strides"])) == [8, 16, 32]
    assert B.level_ranges([8, 16, 32], 4.0) == [(0.0, 32.0), (32.0, 64.0), (64.0, B.INF)]


def test_encode_decode_round_trip_is_exact():
    rng = np.random.default_rng(0)
    p = B.feature_points(128, [8, 16, 32])
    tops = rng.integers(0, 100, size=(len(p["points"]), 2))
    sizes = rng.integers(1, 28, size=(len(p["points"]), 2))
    boxes = np.concatenate([tops, tops + sizes], axis=1).astype(np.float32)
    encoded = B.encode_distances(p["points"], boxes, p["strides"])
    decoded = B.decode_distances(p["points"], encoded, p["strides"]).numpy()
    np.testing.assert_array_equal(decoded, boxes)


def test_assign_targets_marks_centre_points_with_the_right_class_and_box():
    p = B.feature_points(64, [8, 16, 32])
    boxes = tf.constant([[8.0, 8.0, 40.0, 40.0], [44.0, 40.0, 60.0, 62.0]])
    targets = B.assign_targets(
        boxes, [2, 0], p["points"], p["strides"], p["ranges"], num_classes=3
    ).numpy()
    assert targets.shape == (len(p["points"]), 3 + 5)
    positive = targets[:, :3].sum(axis=1) > 0
    assert positive.any()
    classes = targets[positive, :3].argmax(axis=1)
    assert set(classes) == {0, 2}
    # Every positive point decodes back to exactly its object's box.
    decoded = B.decode_distances(
        p["points"][positive], targets[positive, 3:7], p["strides"][positive]
    ).numpy()
    for box, cls in zip(decoded, classes, strict=True):
        np.testing.assert_array_equal(box, boxes.numpy()[0 if cls == 2 else 1])
    # Centre-ness is 1 only at the exact centre and in (0, 1] for positives; 0 for background.
    assert (targets[positive, 7] > 0).all() and (targets[positive, 7] <= 1).all()
    assert (targets[~positive, 3:] == 0).all()


def test_assign_targets_smallest_box_wins_and_empty_images_are_background():
    p = B.feature_points(64, [8, 16, 32])
    nested = tf.constant([[0.0, 0.0, 64.0, 64.0], [24.0, 24.0, 40.0, 40.0]])
    targets = B.assign_targets(nested, [0, 1], p["points"], p["strides"], p["ranges"], 2).numpy()
    centre = np.flatnonzero((p["points"] == [28.0, 28.0]).all(axis=1) & (p["strides"] == 8))[0]
    assert targets[centre, :2].tolist() == [0.0, 1.0]
    empty = B.assign_targets(
        tf.zeros((0, 4)), tf.zeros((0,), tf.int32), p["points"], p["strides"], p["ranges"], 2
    ).numpy()
    assert empty.shape == targets.shape and not empty.any()


def test_box_iou_matches_hand_computed_values():
    iou = B.box_iou(
        [[0, 0, 10, 10]], [[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30], [3, 3, 3, 3]]
    )
    np.testing.assert_allclose(iou[0], [1.0, 25 / 175, 0.0, 0.0])


def _raw_outputs(
    points: np.ndarray,
    strides: np.ndarray,
    boxes: np.ndarray,
    num_classes: int,
    hits: list[tuple[int, int, float]],
) -> np.ndarray:
    """Fake head outputs: point index -> (class, score) predicting ``boxes[i]`` exactly."""
    out = np.full((1, len(points), num_classes + 5), -20.0, np.float32)
    for (index, cls, score), box in zip(hits, boxes, strict=True):
        out[0, index, :num_classes] = -20.0
        out[0, index, cls] = np.log(score / (1 - score))
        out[0, index, num_classes : num_classes + 4] = B.encode_distances(
            points[index : index + 1], box[None].astype(np.float32), strides[index : index + 1]
        ).numpy()
        out[0, index, num_classes + 4] = 20.0  # centre-ness ~1
    return out


def test_nms_removes_duplicates_but_keeps_other_classes_and_distant_boxes():
    p = B.feature_points(64, [8, 16, 32])
    boxes = np.array([[8, 8, 40, 40], [9, 8, 41, 40], [8, 8, 40, 40], [44, 44, 60, 60]], np.float32)
    hits = [(0, 0, 0.9), (1, 0, 0.8), (2, 1, 0.7), (9, 0, 0.6)]  # 2nd duplicates the 1st
    out = B.postprocess(
        tf.constant(_raw_outputs(p["points"], p["strides"], boxes, 2, hits)),
        p["points"],
        p["strides"],
        64,
        2,
    )
    n = int(out["num_detections"][0])
    assert n == 3
    # score = sqrt(class probability * centre-ness), centre-ness ~1 here
    np.testing.assert_allclose(out["detection_scores"][0, :n], np.sqrt([0.9, 0.7, 0.6]), atol=1e-4)
    assert out["detection_classes"][0, :n].numpy().tolist() == [0, 1, 0]
    np.testing.assert_allclose(out["detection_boxes"][0, 0] * 64, boxes[0], atol=1e-3)


def test_giou_values_and_loss_behaviour():
    same = tf.constant([[0.0, 0.0, 2.0, 2.0]])
    far = tf.constant([[0.0, 4.0, 2.0, 6.0]])
    assert float(giou_boxes(same, same)[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(giou_boxes(same, far)[0]) == pytest.approx(0.0 - (12 - 8) / 12, abs=1e-5)
    ltrb = tf.constant([[1.0, 1.0, 1.0, 1.0]])
    assert float(giou_distances(ltrb, ltrb)[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(giou_distances(ltrb, ltrb * 2)[0]) == pytest.approx(0.25, abs=1e-5)
    assert float(
        smooth_l1(tf.constant([[0.0, 0.0]]), tf.constant([[0.5, 3.0]]))[0]
    ) == pytest.approx(0.125 + 2.5)


def test_dense_detection_loss_prefers_correct_predictions():
    p = B.feature_points(64, [8, 16, 32])
    targets = B.assign_targets(
        tf.constant([[8.0, 8.0, 40.0, 40.0]]), [1], p["points"], p["strides"], p["ranges"], 2
    )[tf.newaxis]
    good = np.array(targets)
    good[..., :2] = np.where(good[..., :2] > 0, 8.0, -8.0)
    good[..., 6] = np.where(good[..., 6] > 0, 8.0, -8.0)
    bad = np.array(good)
    bad[..., :2] = -good[..., :2]
    bad[..., 2:6] = good[..., 2:6] * 3 + 0.5
    for box_loss in ("giou", "smooth_l1"):
        loss = DenseDetectionLoss(2, box_loss=box_loss)
        assert float(loss(targets, good)) < float(loss(targets, bad))
    with pytest.raises(ValueError, match="box_loss"):
        DenseDetectionLoss(2, box_loss="l2")

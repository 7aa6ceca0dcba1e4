"""Capsule layers (squash, routing, margin loss, reconstruction) and the capsnet classifier."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from common.capsules import (
    CapsuleLength,
    CapsuleReconstruction,
    MarginLoss,
    PrimaryCapsules,
    RoutingCapsules,
    capsnet_head,
    squash,
)
from tests.conftest import serve_in_fresh_tensorflow


def _np_squash(s: np.ndarray) -> np.ndarray:
    n2 = np.sum(s**2, axis=-1, keepdims=True)
    return s * n2 / (1 + n2) / np.sqrt(n2 + 1e-7)


def test_squash_keeps_direction_and_maps_length_to_n2_over_1_plus_n2():
    v = np.asarray(squash(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)))
    assert np.linalg.norm(v[0]) == pytest.approx(25 / 26, rel=1e-5)
    np.testing.assert_allclose(v[0] / np.linalg.norm(v[0]), [0.6, 0.8], rtol=1e-5)
    np.testing.assert_allclose(v[1], [0.0, 0.0])  # no NaN for a zero vector


def test_margin_loss_matches_hand_computation():
    lengths = np.array([[0.95, 0.3, 0.05], [0.5, 0.05, 0.2]], np.float32)
    labels = np.array([0, 1])
    # row 0: correct class above 0.9 (0); 0.3 > 0.1 -> 0.5 * 0.2^2; 0.05 < 0.1 -> 0
    # row 1: label 1 at 0.05 -> (0.9 - 0.05)^2; others 0.5 * (0.4^2 + 0.1^2)
    want = np.mean([0.5 * 0.2**2, 0.85**2 + 0.5 * (0.4**2 + 0.1**2)])
    assert float(MarginLoss()(labels, lengths)) == pytest.approx(want, rel=1e-5)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    assert float(MarginLoss(sparse=False)(one_hot, lengths)) == pytest.approx(want, rel=1e-5)


def test_margin_loss_rejects_crossed_margins():
    with pytest.raises(ValueError, match="negative_margin < positive_margin"):
        MarginLoss(positive_margin=0.2, negative_margin=0.5)


def test_primary_capsules_shape_and_lengths_below_one():
    layer = PrimaryCapsules(capsules=4, dim=6, kernel_size=3, strides=2)
    out = np.asarray(layer(np.random.default_rng(0).normal(size=(2, 7, 7, 5)).astype("float32")))
    assert out.shape == (2, 4 * 4 * 4, 6) == layer.compute_output_shape((2, 7, 7, 5))
    assert np.all(np.linalg.norm(out, axis=-1) < 1.0)


def test_one_routing_iteration_is_the_uniform_coupling_average():
    rng = np.random.default_rng(1)
    u = rng.normal(size=(3, 5, 4)).astype("float32")
    layer = RoutingCapsules(capsules=2, dim=3, routings=1)
    out = np.asarray(layer(u))
    predictions = np.einsum("bid,ijde->bije", u, np.asarray(layer.kernel))
    np.testing.assert_allclose(out, _np_squash(predictions.sum(axis=1) / 2), rtol=1e-4, atol=1e-6)


def test_routing_moves_coupling_toward_agreeing_predictions():
    # Input capsules 0-3 predict the same vector for output 0; capsule 4 predicts something else.
    # More iterations give output 0 a longer (more confident) vector.
    kernel = np.zeros((5, 2, 1, 2), np.float32)
    kernel[:4, 0, 0] = [1.0, 0.0]
    kernel[4, 0, 0] = [-1.0, 0.0]
    kernel[:, 1, 0] = [0.0, 0.2]
    u = np.ones((1, 5, 1), np.float32)
    lengths = []
    for routings in (1, 3):
        layer = RoutingCapsules(capsules=2, dim=2, routings=routings)
        layer.build(u.shape)
        layer.kernel.assign(kernel)
        lengths.append(np.asarray(CapsuleLength()(layer(u)))[0, 0])
    assert lengths[1] > lengths[0]


def test_reconstruction_adds_its_loss_only_while_training():
    capsules = np.random.default_rng(2).normal(size=(4, 3, 2)).astype("float32")
    images = np.full((4, 2, 2, 1), 0.5, np.float32)
    layer = CapsuleReconstruction(units=(4, 4), weight=1.0)
    out = layer([capsules, images], training=False)
    np.testing.assert_array_equal(np.asarray(out), capsules)
    assert not layer.losses
    layer([capsules, images], training=True)
    (loss,) = layer.losses
    assert 0.0 <= float(loss) <= 4 * 0.25 + 1e-6  # sigmoid outputs vs 0.5 over 4 pixels


def test_capsnet_head_grid_cap_and_output():
    images = keras.Input((40, 40, 1))
    model = keras.Model(images, capsnet_head(images, 3, stem_filters=8, max_grid=16))
    primary = model.get_layer("primary_capsules")
    assert primary.output.shape[1] == 5 * 5 * 16  # 40 -> 20 -> 10, then stride-2 capsules
    lengths = model(np.random.default_rng(3).uniform(size=(2, 40, 40, 1)).astype("float32"))
    assert lengths.shape == (2, 3)
    assert np.all((np.asarray(lengths) > 0) & (np.asarray(lengths) < 1))


# ---------------------------------------------------------------------- the classifier backbone
@pytest.fixture(scope="module")
def capsnet_digits(digits_split):
    from vision import ImageClassifier

    classes, (x_train, y_train), _ = digits_split
    task = ImageClassifier(
        classes=classes, image_size=16, backbone="capsnet", augment=False, batch_size=32
    )
    task.fit((x_train[:640], y_train[:640]), epochs=3, verbose=0)
    return task


def test_capsnet_classifier_learns_digits(capsnet_digits, digits_split):
    _, _, (x_test, y_test) = digits_split
    report = capsnet_digits.evaluate((x_test, y_test))
    assert report["accuracy"] > 0.8
    scores = capsnet_digits.predict_proba(x_test[:5])
    assert scores.shape == (5, 10) and np.all((scores > 0) & (scores < 1))


@pytest.mark.slow  # a fresh TensorFlow process
def test_capsnet_classifier_saves_and_exports(capsnet_digits, digits_split, tmp_path):
    from vision import ImageClassifier
    from vision.images import encode_png

    _, _, (x_test, _) = digits_split
    loaded = ImageClassifier.load(capsnet_digits.save(tmp_path / "caps.keras"))
    np.testing.assert_allclose(
        loaded.predict_proba(x_test[:4]), capsnet_digits.predict_proba(x_test[:4]), atol=1e-6
    )
    payload = np.array([encode_png(np.repeat(x_test[i], 3, -1)) for i in range(4)], bytes)
    version = capsnet_digits.export(tmp_path / "export")
    served = serve_in_fresh_tensorflow(version, {"image_bytes": payload}, tmp_path)
    expected = capsnet_digits.predict(list(payload))
    assert [c.decode() for c in served["classes"][:, 0]] == [e["label"] for e in expected]
    np.testing.assert_allclose(
        served["probabilities"], capsnet_digits.predict_proba(list(payload)), atol=1e-5
    )

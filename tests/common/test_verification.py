"""common.verification: margin loss, gallery behaviour, hand-computed EER and minDCF."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.verification import (
    AdditiveMarginLoss,
    CosineClassifier,
    Gallery,
    best_match,
    cosine_scores,
    equal_error_rate,
    identification_accuracy,
    l2_normalize,
    min_dcf,
)

# Targets 0.9, 0.8, 0.4; non-targets 0.7, 0.3, 0.2. Accepting score >= 0.7 misses 1 of 3
# targets and accepts 1 of 3 non-targets: EER = 1/3 at threshold 0.7.
SAME = [1, 1, 1, 0, 0, 0]
SCORES = [0.9, 0.8, 0.4, 0.7, 0.3, 0.2]


def test_equal_error_rate_hand_computed():
    eer, threshold = equal_error_rate(SAME, SCORES)
    assert eer == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.7)
    assert equal_error_rate([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1])[0] == 0.0


def test_min_dcf_hand_computed():
    # p_target 0.01: normaliser min(0.01, 0.99) = 0.01. Best threshold 0.8: P_miss 1/3, P_fa 0
    # -> 0.01 * 1/3 / 0.01 = 1/3 (accepting everything or nothing costs 1.0).
    cost, threshold = min_dcf(SAME, SCORES)
    assert cost == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.8)
    # p_target 0.5, c_miss 2: normaliser min(1, 0.5) = 0.5; threshold 0.4: P_miss 0, P_fa 1/3
    # -> 0.5 * 1/3 / 0.5 = 1/3; threshold 0.8: 2 * 1/3 * 0.5 / 0.5 = 2/3.
    cost, threshold = min_dcf(SAME, SCORES, p_target=0.5, c_miss=2.0)
    assert cost == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.4)


@pytest.mark.parametrize(
    "same, scores, message",
    [
        ([1, 1], [0.1, 0.2], "both target"),
        ([1, 0], [0.1], "2 trial labels but 1 scores"),
        ([1, 0], [0.1, float("nan")], "NaN"),
    ],
)
def test_verification_metrics_refuse_bad_trials(same, scores, message):
    with pytest.raises(ValueError, match=message):
        equal_error_rate(same, scores)
    with pytest.raises(ValueError, match="p_target"):
        min_dcf([1, 0], [0.2, 0.1], p_target=1.0)


def test_identification_accuracy():
    assert identification_accuracy(["a", "b", "c", "a"], ["a", "b", "a", "a"]) == 0.75
    with pytest.raises(ValueError, match="2 true names but 1"):
        identification_accuracy(["a", "b"], ["a"])


def test_additive_margin_loss_hand_computed():
    cosines = np.array([[0.5, 0.1]], dtype=np.float32)
    loss = AdditiveMarginLoss(margin=0.2, scale=10.0)
    # logits 10 * (0.5 - 0.2) = 3 and 1: -log(e^3 / (e^3 + e^1)) = log(1 + e^-2)
    assert float(loss(np.array([0]), cosines)) == pytest.approx(math.log1p(math.exp(-2)), 1e-5)
    # label 1: logits 5 and 10 * (0.1 - 0.2) = -1: log(1 + e^6)
    assert float(loss(np.array([1]), cosines)) == pytest.approx(math.log1p(math.exp(6)), 1e-5)
    restored = AdditiveMarginLoss.from_config(loss.get_config())
    assert (restored.margin, restored.scale) == (0.2, 10.0)
    with pytest.raises(ValueError, match="margin"):
        AdditiveMarginLoss(margin=1.5)


def test_cosine_classifier_learns_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 4, dtype=np.float32) * 3
    labels = rng.integers(0, 3, 300)
    points = centres[labels] + rng.normal(0, 0.5, (300, 4)).astype(np.float32)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, CosineClassifier(3)(keras.layers.Dense(8)(inputs)))
    model.compile(keras.optimizers.Adam(0.05), AdditiveMarginLoss(scale=10.0))
    model.fit(points, labels, epochs=15, batch_size=32, verbose=0)
    cosines = model.predict(points, verbose=0)
    assert cosines.shape == (300, 3)
    assert np.all(np.abs(cosines) <= 1.0 + 1e-5)
    assert np.mean(np.argmax(cosines, axis=1) == labels) > 0.95


def test_scoring_normalises_and_refuses_zero_vectors():
    np.testing.assert_allclose(l2_normalize([3.0, 4.0]), [[0.6, 0.8]])
    np.testing.assert_allclose(cosine_scores([[1, 0], [1, 1]], [[2, 0]]), [[1.0], [0.70710677]])
    with pytest.raises(ValueError, match="all zeros"):
        l2_normalize([[0.0, 0.0]])


def _gallery() -> Gallery:
    gallery = Gallery()
    gallery.enroll("ann", [[1.0, 0.0, 0.0], [2.0, 0.2, 0.0]])
    gallery.enroll("bob", [0.0, 1.0, 0.0])
    return gallery


def test_gallery_identify_verify_and_averaging():
    gallery = _gallery()
    assert gallery.names == ["ann", "bob"] and gallery.count("ann") == 2
    name, score = gallery.identify([0.9, 0.1, 0.0])
    assert name == "ann" and 0.99 < score <= 1.0
    same, score = gallery.verify([0.0, 1.0, 0.1], "bob", threshold=0.9)
    assert same and score == pytest.approx(1 / math.sqrt(1.01), 1e-5)
    same, _ = gallery.verify([0.0, 1.0, 0.1], "ann", threshold=0.5)
    assert not same
    # enrolling again adds to the average: bob's vector moves towards the new direction
    gallery.enroll("bob", [0.0, 0.0, 1.0])
    np.testing.assert_allclose(gallery.matrix()[1], [0, 1 / math.sqrt(2), 1 / math.sqrt(2)])


def test_gallery_bad_input_leaves_it_unchanged():
    gallery = _gallery()
    before = gallery.to_state()
    for name, embeddings, message in [
        ("cy", [[1.0, 0.0]], "2 dimensions, the gallery holds 3"),
        ("cy", [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], "all zeros"),
        ("ann", np.zeros((0, 3)), "non-empty"),
        ("", [1.0, 0.0, 0.0], "non-empty string"),
        ("cy", [[np.nan, 1.0, 0.0]], "NaN"),
    ]:
        with pytest.raises(ValueError, match=message):
            gallery.enroll(name, embeddings)
    assert gallery.to_state() == before
    with pytest.raises(ValueError, match="'zed' is not enrolled"):
        gallery.verify([1.0, 0.0, 0.0], "zed", 0.5)
    with pytest.raises(ValueError, match="empty"):
        Gallery().identify([1.0, 0.0])


def test_gallery_save_load_and_state_round_trip(tmp_path):
    gallery = _gallery()
    path = gallery.save(tmp_path / "gallery.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["gallery.npz"]  # no staging leftovers
    for loaded in (Gallery.load(path), Gallery.from_state(gallery.to_state())):
        assert loaded.names == gallery.names and loaded.count("ann") == 2
        np.testing.assert_allclose(loaded.matrix(), gallery.matrix(), rtol=1e-6)
    empty = Gallery().save(tmp_path / "empty.npz")
    assert len(Gallery.load(empty)) == 0


def test_best_match_agrees_with_gallery():
    gallery = _gallery()
    queries = np.array([[0.9, 0.1, 0.0], [0.1, 2.0, 0.3]], dtype=np.float32)
    fn = tf.function(lambda x: best_match(x, gallery.matrix(), gallery.names))
    out = fn(tf.constant(queries))
    for row, query in enumerate(queries):
        name, score = gallery.identify(query)
        assert out["label"].numpy()[row].decode() == name
        assert float(out["score"][row]) == pytest.approx(score, 1e-5)
    np.testing.assert_allclose(out["scores"].numpy(), gallery.scores(queries), rtol=1e-5)

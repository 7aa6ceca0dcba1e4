"""Self-supervised contrastive pretraining: the NT-Xent value, the backbone it learns and its
fine-tuning through ``ImageClassifier(backbone=...)`` with save / load / export."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

import vision
from common.losses import NTXentLoss
from tests.conftest import serve_in_fresh_tensorflow
from vision.images import encode_png

TINY = {"widths": (8, 16), "batch_size": 32, "verbose": 0}


class EpochLosses(keras.callbacks.Callback):
    """Records the training loss of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))


@pytest.fixture(scope="module")
def shapes():
    return vision.make_shapes(96, image_size=16, seed=0)


@pytest.fixture(scope="module")
def pretrained(shapes):
    """(backbone, per-epoch NT-Xent losses) after a short pretraining on unlabelled shapes."""
    losses = EpochLosses()
    backbone = vision.pretrain_contrastive(
        shapes.images, epochs=6, learning_rate=3e-3, callbacks=[losses], **TINY
    )
    return backbone, losses.losses


def test_nt_xent_equals_hand_computed_value():
    # Two pairs in 2-D; unit vectors so the cosine similarities are plain dot products.
    a0, b0 = np.array([1.0, 0.0]), np.array([0.6, 0.8])
    a1, b1 = np.array([0.0, 1.0]), np.array([-0.8, 0.6])
    z = [a0, a1, b0, b1]  # anchors 0, 1 pair with 2, 3
    t = 0.5
    total = 0.0
    for i, partner in enumerate([2, 3, 0, 1]):
        others = sum(math.exp(z[i] @ z[k] / t) for k in range(4) if k != i)
        total += -math.log(math.exp(z[i] @ z[partner] / t) / others)
    y_pred = np.array([[a0, b0], [a1 * 3.0, b1]], np.float32)  # scale must not matter
    value = float(NTXentLoss(temperature=t)(np.zeros(2), y_pred))
    assert value == pytest.approx(total / 4, abs=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=0.0)
    with pytest.raises(ValueError, match=r"\[B, 2, D\]"):
        NTXentLoss()(np.zeros(2), np.zeros((2, 3, 4), np.float32))


def test_pretraining_learns_to_match_views(pretrained):
    backbone, losses = pretrained
    chance = math.log(2 * TINY["batch_size"] - 1)  # picking the partner among 2B - 1 at random
    assert losses[-1] < 0.6 * chance and losses[-1] < losses[0] - 0.3, losses
    assert backbone.input_shape == (None, 16, 16, 3) and len(backbone.output_shape) == 4


def test_fine_tune_save_load_and_export(pretrained, shapes, tmp_path):
    backbone, _ = pretrained
    before = [w.copy() for w in backbone.get_weights()]
    clf = vision.ImageClassifier(classes=shapes.class_names, backbone=backbone, augment=False)
    assert clf.config.backbone == "pretrained" and clf.config.image_size == 16
    inner = next(layer for layer in clf.model.layers if isinstance(layer, keras.Model))
    assert all(np.array_equal(x, y) for x, y in zip(inner.get_weights(), before, strict=True))
    clf.fit((shapes.images[:64], shapes.labels[:64]), epochs=1, batch_size=16, verbose=0)
    # Fine-tuning changed the classifier's copy, never the backbone the caller holds.
    assert any(not np.array_equal(x, y) for x, y in zip(inner.get_weights(), before, strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(backbone.get_weights(), before, strict=True))

    images = list(shapes.images[64:68])
    expected = clf.predict_proba(images)
    loaded = vision.ImageClassifier.load(clf.save(tmp_path / "clf.keras"))
    assert loaded.config.backbone == "pretrained"
    np.testing.assert_allclose(loaded.predict_proba(images), expected, atol=1e-5)

    version = loaded.export(tmp_path / "export")
    served = serve_in_fresh_tensorflow(
        version, {"image_bytes": np.array([encode_png(i) for i in images])}, tmp_path
    )
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-4)


def test_bad_inputs_are_named(pretrained):
    backbone, _ = pretrained
    with pytest.raises(ValueError, match="image_size=32 does not match"):
        vision.ImageClassifier(classes=["a", "b"], backbone=backbone, image_size=32)
    with pytest.raises(ValueError, match="needs the backbone model itself"):
        vision.ImageClassifier(classes=["a", "b"], backbone="pretrained")
    flat = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.GlobalAveragePooling2D()])
    with pytest.raises(ValueError, match="feature map"):
        vision.ImageClassifier(classes=["a", "b"], backbone=flat)
    with pytest.raises(ValueError, match="at least 2 images"):
        vision.pretrain_contrastive(np.zeros((1, 16, 16), np.uint8))
    with pytest.raises(ValueError, match="expected images of shape"):
        vision.pretrain_contrastive(np.zeros((4, 16), np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        vision.pretrain_contrastive(np.full((4, 16, 16), np.nan, np.float32))

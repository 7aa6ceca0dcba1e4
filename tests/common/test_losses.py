"""Tests for common.losses against NumPy reference formulas and Keras built-ins."""

import keras
import numpy as np
import pytest

from common.losses import BinaryFocalLoss, CategoricalFocalLoss, DiceLoss, LabelSmoothedCrossEntropy

RTOL = 1e-5


def _value(loss, y_true, y_pred) -> float:
    return float(keras.ops.convert_to_numpy(loss(y_true, y_pred)))


def _logit(p):
    return np.log(p / (1.0 - p))


# --- binary focal --------------------------------------------------------------------------

Y_BIN = np.array([[1, 0, 1], [0, 0, 1]], "float32")
P_BIN = np.array([[0.9, 0.2, 0.4], [0.3, 0.6, 0.7]], "float32")


def _np_binary_focal(y, p, gamma, alpha):
    p_t = np.where(y == 1, p, 1 - p)
    alpha_t = np.where(y == 1, alpha, 1 - alpha) if alpha is not None else 1.0
    per_element = -alpha_t * (1 - p_t) ** gamma * np.log(p_t)
    return per_element.mean(axis=-1).mean()


@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (0.5, None), (0.0, 0.5)])
def test_binary_focal_matches_numpy(gamma, alpha):
    expected = _np_binary_focal(Y_BIN, P_BIN, gamma, alpha)
    loss = BinaryFocalLoss(gamma=gamma, alpha=alpha)
    np.testing.assert_allclose(_value(loss, Y_BIN, P_BIN), expected, rtol=RTOL)
    from_logits = BinaryFocalLoss(gamma=gamma, alpha=alpha, from_logits=True)
    np.testing.assert_allclose(_value(from_logits, Y_BIN, _logit(P_BIN)), expected, rtol=1e-4)


def test_binary_focal_agrees_with_keras():
    ours = _value(BinaryFocalLoss(gamma=2.0, alpha=0.25), Y_BIN, P_BIN)
    theirs = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=0.25, gamma=2.0
    )(Y_BIN, P_BIN)
    np.testing.assert_allclose(ours, float(theirs), rtol=RTOL)
    ce = keras.losses.BinaryCrossentropy()(Y_BIN, P_BIN)
    np.testing.assert_allclose(
        _value(BinaryFocalLoss(0.0, None), Y_BIN, P_BIN), float(ce), rtol=RTOL
    )


def test_binary_focal_down_weights_easy_examples():
    easy, hard = np.array([[0.95]], "float32"), np.array([[0.3]], "float32")
    y = np.ones((1, 1), "float32")
    focal, ce = BinaryFocalLoss(alpha=None), BinaryFocalLoss(gamma=0.0, alpha=None)
    assert _value(focal, y, easy) / _value(ce, y, easy) < _value(focal, y, hard) / _value(
        ce, y, hard
    )


def _value_and_gradient(loss, y_true, y_pred):
    import tensorflow as tf

    y_pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        value = loss(y_true, y_pred)
    return float(value), tape.gradient(value, y_pred).numpy()


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_focal_is_the_keras_builtin_with_equal_values_and_gradients(from_logits):
    y = np.array([[1.0, 0.0, 1.0]], "float32")
    x = np.array([[-100.0, 30.0, 0.5]], "float32") if from_logits else P_BIN[:1]
    ours = BinaryFocalLoss(gamma=2.0, alpha=0.25, from_logits=from_logits)
    assert isinstance(ours, keras.losses.BinaryFocalCrossentropy)
    theirs = keras.losses.BinaryFocalCrossentropy(
        apply_class_balancing=True, alpha=0.25, gamma=2.0, from_logits=from_logits
    )
    value, gradient = _value_and_gradient(ours, y, x)
    expected_value, expected_gradient = _value_and_gradient(theirs, y, x)
    assert value == pytest.approx(expected_value, rel=1e-6)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-6)
    plain = BinaryFocalLoss(alpha=None)
    assert not plain.apply_class_balancing and plain.get_config()["alpha"] is None


def test_binary_focal_loads_a_config_written_before_the_switch():
    old = {
        "module": "common.losses",
        "class_name": "BinaryFocalLoss",
        "config": {
            "name": "binary_focal_loss",
            "reduction": "sum_over_batch_size",
            "dtype": None,
            "gamma": 1.5,
            "alpha": None,
            "from_logits": True,
        },
        "registered_name": "dlsuite>BinaryFocalLoss",
    }
    loss = keras.saving.deserialize_keras_object(old)
    assert isinstance(loss, BinaryFocalLoss)
    assert (loss.gamma, loss.from_logits, loss.apply_class_balancing) == (1.5, True, False)


# --- categorical focal ---------------------------------------------------------------------

LABELS = np.array([0, 2, 1], "int32")
ONE_HOT = np.eye(3, dtype="float32")[LABELS]
PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.25, 0.5]], "float32")


def _np_categorical_focal(y, p, gamma, alpha):
    weights = 1.0 if alpha is None else np.asarray(alpha)
    return (-(weights * y * (1 - p) ** gamma * np.log(p)).sum(axis=-1)).mean()


@pytest.mark.parametrize("alpha", [None, 0.25, [0.5, 1.0, 2.0]])
def test_categorical_focal_matches_numpy(alpha):
    expected = _np_categorical_focal(ONE_HOT, PROBS, 2.0, alpha)
    np.testing.assert_allclose(
        _value(CategoricalFocalLoss(alpha=alpha), ONE_HOT, PROBS), expected, rtol=RTOL
    )
    sparse = CategoricalFocalLoss(alpha=alpha, sparse=True)
    np.testing.assert_allclose(_value(sparse, LABELS, PROBS), expected, rtol=RTOL)
    np.testing.assert_allclose(_value(sparse, LABELS[:, None], PROBS), expected, rtol=RTOL)
    logits = CategoricalFocalLoss(alpha=alpha, from_logits=True)
    np.testing.assert_allclose(_value(logits, ONE_HOT, np.log(PROBS)), expected, rtol=1e-4)


def test_categorical_focal_agrees_with_keras():
    np.testing.assert_allclose(
        _value(CategoricalFocalLoss(gamma=0.0, alpha=None), ONE_HOT, PROBS),
        float(keras.losses.CategoricalCrossentropy()(ONE_HOT, PROBS)),
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        _value(CategoricalFocalLoss(gamma=2.0, alpha=0.25), ONE_HOT, PROBS),
        float(keras.losses.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0)(ONE_HOT, PROBS)),
        rtol=RTOL,
    )


@pytest.mark.parametrize("alpha", [0.25, [0.5, 1.0, 2.0]])
def test_categorical_focal_on_probabilities_is_the_keras_builtin(alpha):
    ours = CategoricalFocalLoss(alpha=alpha, label_smoothing=0.1)
    assert isinstance(ours, keras.losses.CategoricalFocalCrossentropy)
    theirs = keras.losses.CategoricalFocalCrossentropy(alpha=alpha, label_smoothing=0.1)
    value, gradient = _value_and_gradient(ours, ONE_HOT, PROBS)
    expected_value, expected_gradient = _value_and_gradient(theirs, ONE_HOT, PROBS)
    assert value == pytest.approx(expected_value, rel=1e-6)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-6)
    sparse = CategoricalFocalLoss(alpha=alpha, label_smoothing=0.1, sparse=True)
    assert _value(sparse, LABELS, PROBS) == pytest.approx(expected_value, rel=1e-6)


def test_categorical_focal_logits_do_not_saturate_like_the_builtin():
    # Why the logits path stays custom: Keras takes softmax then clips at epsilon.
    y, logits = np.array([[0.0, 1.0, 0.0]], "float32"), np.array([[20.0, 0.0, 0.0]], "float32")
    value, gradient = _value_and_gradient(
        CategoricalFocalLoss(alpha=0.25, from_logits=True), y, logits
    )
    builtin = keras.losses.CategoricalFocalCrossentropy(alpha=0.25, from_logits=True)
    builtin_value, builtin_gradient = _value_and_gradient(builtin, y, logits)
    assert value == pytest.approx(5.0, rel=1e-5) and builtin_value == pytest.approx(4.03, abs=0.01)
    np.testing.assert_allclose(gradient, [[0.25, -0.25, 0.0]], atol=1e-6)
    np.testing.assert_array_equal(builtin_gradient, np.zeros((1, 3)))
    smoothed = CategoricalFocalLoss(gamma=0.0, from_logits=True, label_smoothing=0.2)
    np.testing.assert_allclose(
        _value(smoothed, ONE_HOT, np.log(PROBS)),
        float(keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(ONE_HOT, PROBS)),
        rtol=1e-5,
    )


def test_categorical_focal_rejects_wrong_alpha_length():
    with pytest.raises(ValueError, match="alpha"):
        CategoricalFocalLoss(alpha=[1.0, 2.0])(ONE_HOT, PROBS)


# --- dice ----------------------------------------------------------------------------------

LABEL_MAP = np.array([[[0, 1], [1, 1]], [[0, 0], [2, 1]]], "int32")  # (2, 2, 2), 3 classes
MASK = np.eye(3, dtype="float32")[LABEL_MAP]  # (2, 2, 2, 3)
rng = np.random.default_rng(0)
SEG_PROBS = rng.dirichlet(np.ones(3), size=(2, 2, 2)).astype("float32")


def _np_dice(y, p, smooth=1e-6, first_class=0):
    y, p = y[..., first_class:], p[..., first_class:]
    axes = tuple(range(1, y.ndim - 1))
    dice = (2 * (y * p).sum(axes) + smooth) / (y.sum(axes) + p.sum(axes) + smooth)
    return (1 - dice.mean(axis=-1)).mean()


def test_dice_matches_numpy_dense_sparse_logits_and_background():
    expected = _np_dice(MASK, SEG_PROBS)
    np.testing.assert_allclose(_value(DiceLoss(), MASK, SEG_PROBS), expected, rtol=RTOL)
    np.testing.assert_allclose(
        _value(DiceLoss(sparse=True), LABEL_MAP, SEG_PROBS), expected, rtol=RTOL
    )
    np.testing.assert_allclose(
        _value(DiceLoss(sparse=True, num_classes=3), LABEL_MAP[..., None], SEG_PROBS),
        expected,
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        _value(DiceLoss(from_logits=True), MASK, np.log(SEG_PROBS) + 1.0), expected, rtol=1e-4
    )
    np.testing.assert_allclose(
        _value(DiceLoss(exclude_background=True), MASK, SEG_PROBS),
        _np_dice(MASK, SEG_PROBS, first_class=1),
        rtol=RTOL,
    )


def test_dice_volumes_perfect_and_worst_predictions():
    labels = rng.integers(0, 2, size=(2, 3, 3, 3))
    mask = np.eye(2, dtype="float32")[labels]
    assert _value(DiceLoss(), mask, mask) == pytest.approx(0.0, abs=1e-6)
    assert _value(DiceLoss(), mask, 1.0 - mask) == pytest.approx(1.0, abs=1e-6)
    probs = rng.dirichlet(np.ones(2), size=(2, 3, 3, 3)).astype("float32")
    np.testing.assert_allclose(_value(DiceLoss(), mask, probs), _np_dice(mask, probs), rtol=RTOL)


def test_dice_single_channel_agrees_with_keras():
    y = (rng.random((2, 4, 4, 1)) > 0.5).astype("float32")
    p = rng.random((2, 4, 4, 1)).astype("float32")
    theirs = keras.losses.Dice(axis=(1, 2, 3))(y, p)
    np.testing.assert_allclose(_value(DiceLoss(), y, p), float(theirs), rtol=1e-5)


def test_dice_keeps_its_smoothing_where_the_builtin_scores_absent_classes_as_misses():
    # Why DiceLoss is not keras.losses.Dice: a perfect prediction with class 2 absent.
    labels = np.array([[[0, 1], [1, 0]]])
    mask = np.eye(3, dtype="float32")[labels]
    assert _value(DiceLoss(), mask, mask) == pytest.approx(0.0, abs=1e-6)
    assert float(keras.losses.Dice(axis=(1, 2))(mask, mask)) == pytest.approx(1 / 3, rel=1e-5)
    probs = rng.dirichlet(np.ones(3), size=(2, 4, 4)).astype("float32")
    maps = np.eye(3, dtype="float32")[rng.integers(0, 3, (2, 4, 4))]
    per_class = float(keras.losses.Dice(axis=(1, 2))(maps, probs))  # no class absent here
    assert _value(DiceLoss(), maps, probs) == pytest.approx(per_class, rel=1e-5)


# --- label-smoothed cross-entropy ----------------------------------------------------------


def _np_smoothed_ce(labels, p, smoothing):
    num_classes = p.shape[-1]
    target = np.eye(num_classes)[labels] * (1 - smoothing) + smoothing / num_classes
    return (-(target * np.log(p)).sum(axis=-1)).mean()


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothed_ce_matches_numpy(smoothing):
    expected = _np_smoothed_ce(LABELS, PROBS, smoothing)
    sparse = LabelSmoothedCrossEntropy(smoothing)
    np.testing.assert_allclose(_value(sparse, LABELS, PROBS), expected, rtol=RTOL)
    dense = LabelSmoothedCrossEntropy(smoothing, sparse=False)
    np.testing.assert_allclose(_value(dense, ONE_HOT, PROBS), expected, rtol=RTOL)
    logits = LabelSmoothedCrossEntropy(smoothing, from_logits=True)
    np.testing.assert_allclose(_value(logits, LABELS, np.log(PROBS) - 3.0), expected, rtol=1e-4)


def test_label_smoothed_ce_agrees_with_keras():
    np.testing.assert_allclose(
        _value(LabelSmoothedCrossEntropy(0.0), LABELS, PROBS),
        float(keras.losses.SparseCategoricalCrossentropy()(LABELS, PROBS)),
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        _value(LabelSmoothedCrossEntropy(0.2), LABELS, PROBS),
        float(keras.losses.CategoricalCrossentropy(label_smoothing=0.2)(ONE_HOT, PROBS)),
        rtol=RTOL,
    )
    sequence_labels = np.array([[0, 1], [2, 2]], "int32")  # (batch, time) token labels
    sequence_probs = rng.dirichlet(np.ones(3), size=(2, 2)).astype("float32")
    np.testing.assert_allclose(
        _value(LabelSmoothedCrossEntropy(0.0), sequence_labels, sequence_probs),
        float(keras.losses.SparseCategoricalCrossentropy()(sequence_labels, sequence_probs)),
        rtol=RTOL,
    )


def test_invalid_arguments_raise():
    with pytest.raises(ValueError):
        LabelSmoothedCrossEntropy(1.0)
    with pytest.raises(ValueError):
        BinaryFocalLoss(alpha=1.5)
    with pytest.raises(ValueError):
        DiceLoss()(np.zeros((2, 3)), np.zeros((2, 3)))


# --- serialisation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, y",
    [
        (BinaryFocalLoss(gamma=1.5, alpha=0.3), np.array([[1.0], [0.0]], "float32")),
        (CategoricalFocalLoss(alpha=[1.0, 2.0], sparse=True), np.array([0, 1])),
        (DiceLoss(smooth=1.0, exclude_background=True), np.eye(2, dtype="float32")),
        (LabelSmoothedCrossEntropy(0.2, from_logits=True), np.array([1, 0])),
    ],
)
def test_loss_round_trips_in_compiled_model(loss, y, tmp_path):
    width = 1 if isinstance(loss, BinaryFocalLoss) else 2
    activation = (
        None if getattr(loss, "from_logits", False) else ("sigmoid" if width == 1 else "softmax")
    )
    inputs = keras.Input((1, 3)) if isinstance(loss, DiceLoss) else keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(width, activation=activation)(inputs))
    model.compile(optimizer="sgd", loss=loss)
    x = np.random.rand(2, *inputs.shape[1:]).astype("float32")
    y = y[:, None, :] if isinstance(loss, DiceLoss) else y
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.loss) is type(loss)
    assert loaded.loss.get_config() == loss.get_config()
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-5
    )
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert restored.get_config() == loss.get_config()

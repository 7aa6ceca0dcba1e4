"""Tests for common.optimizers.make_optimizer."""

import keras
import numpy as np
import pytest

from common.optimizers import make_optimizer


def _step_with_zero_gradient(optimizer, value: float = 1.0) -> float:
    variable = keras.Variable(np.full((2,), value, "float32"))
    optimizer.apply_gradients([(keras.ops.zeros((2,)), variable)])
    return float(keras.ops.convert_to_numpy(variable)[0])


def test_default_is_adamw_with_constant_rate():
    optimizer = make_optimizer()
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)
    assert optimizer.weight_decay == 0.0
    assert _step_with_zero_gradient(optimizer) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_weight_decay_is_decoupled(name):
    # With a zero gradient only the decoupled decay moves the weight: w <- w - lr * wd * w.
    optimizer = make_optimizer(learning_rate=0.1, weight_decay=0.5, optimizer=name)
    assert _step_with_zero_gradient(optimizer) == pytest.approx(1.0 - 0.1 * 0.5)


def test_kinds_and_options():
    sgd = make_optimizer(0.1, optimizer="SGD", clipnorm=1.0)
    assert isinstance(sgd, keras.optimizers.SGD)
    assert sgd.momentum == pytest.approx(0.9) and sgd.clipnorm == 1.0
    adam = make_optimizer(optimizer="adam")
    assert type(adam) is keras.optimizers.Adam and adam.weight_decay is None


def test_total_steps_uses_keras_cosine_decay_with_warmup():
    optimizer = make_optimizer(0.01, total_steps=100, warmup_steps=10)
    schedule = optimizer._learning_rate
    assert type(schedule) is keras.optimizers.schedules.CosineDecay
    config = schedule.get_config()
    assert (config["initial_learning_rate"], config["warmup_target"]) == (0.0, 0.01)
    assert (config["warmup_steps"], config["decay_steps"], config["alpha"]) == (10, 90, 0.0)
    assert float(optimizer.learning_rate) == pytest.approx(0.0)  # step 0 of the warmup
    assert float(schedule(10)) == pytest.approx(0.01) and float(schedule(100)) == pytest.approx(0)


def test_sgd_clipnorm_limits_update():
    optimizer = make_optimizer(1.0, optimizer="sgd", clipnorm=1.0)
    variable = keras.Variable(np.zeros((2,), "float32"))
    optimizer.apply_gradients([(keras.ops.array([30.0, 40.0]), variable)])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), [-0.6, -0.8], rtol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="adamw, adam, sgd"):
        make_optimizer(optimizer="rmsprop")
    with pytest.raises(ValueError):
        make_optimizer(learning_rate=0.0)
    with pytest.raises(ValueError):
        make_optimizer(warmup_steps=5)

"""The DQN update's pieces against hand-computed values: targets, Huber loss, epsilon."""

from __future__ import annotations

import numpy as np
import pytest

from autonomy.dqn import huber, linear_epsilon, td_targets

NEXT_ONLINE = np.array([[1.0, 5.0, 2.0], [3.0, 0.0, 1.0]], np.float32)
NEXT_TARGET = np.array([[4.0, 2.0, 7.0], [1.0, 9.0, 2.0]], np.float32)
REWARDS = np.array([1.0, 0.5], np.float32)
DISCOUNTS = np.array([0.5, 0.0], np.float32)  # second transition terminated


def test_double_dqn_evaluates_the_online_argmax_with_the_target_network():
    targets = td_targets(REWARDS, DISCOUNTS, NEXT_ONLINE, NEXT_TARGET, double=True).numpy()
    # row 0: online argmax = 1 -> target Q = 2 -> 1 + 0.5 * 2 = 2; row 1: terminal -> 0.5
    np.testing.assert_allclose(targets, [2.0, 0.5])


def test_vanilla_dqn_uses_the_target_max():
    targets = td_targets(REWARDS, DISCOUNTS, NEXT_ONLINE, NEXT_TARGET, double=False).numpy()
    np.testing.assert_allclose(targets, [1.0 + 0.5 * 7.0, 0.5])


def test_huber_is_quadratic_then_linear():
    values = huber(np.array([0.5, -2.0, 3.0], np.float32)).numpy()
    np.testing.assert_allclose(values, [0.125, 1.5, 2.5])


@pytest.mark.parametrize(
    ("step", "expected"), [(0, 1.0), (500, 0.525), (1000, 0.05), (5000, 0.05), (-3, 1.0)]
)
def test_linear_epsilon_schedule(step, expected):
    assert linear_epsilon(step, 1.0, 0.05, 1000) == pytest.approx(expected)
    assert linear_epsilon(step, 1.0, 0.05, 0) == pytest.approx(0.05)

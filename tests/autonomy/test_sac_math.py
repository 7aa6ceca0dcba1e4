"""SAC losses, the temperature update and HER relabelling against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from autonomy.her import Episode, future_goal_indices, relabel
from autonomy.sac_losses import (
    actor_loss,
    critic_loss,
    critic_targets,
    split_policy_output,
    squashed_log_prob,
    temperature_loss,
)


def test_critic_targets_take_the_smaller_critic_minus_the_entropy_term():
    targets = critic_targets(
        rewards=[1.0, 0.5],
        discounts=[0.9, 0.0],  # the second transition terminated: no bootstrap
        next_q1=tf.constant([2.0, 3.0]),
        next_q2=tf.constant([1.5, 4.0]),
        next_log_prob=tf.constant([0.2, -1.0]),
        alpha=0.5,
    )
    # 1 + 0.9 * (min(2, 1.5) - 0.5 * 0.2) = 2.26 ; 0.5 + 0 * ... = 0.5
    np.testing.assert_allclose(targets.numpy(), [2.26, 0.5], rtol=1e-6)


def test_critic_and_actor_losses():
    loss = critic_loss(tf.constant([1.0, 2.0]), tf.constant([0.0, 2.0]), tf.constant([1.0, 1.0]))
    assert float(loss) == pytest.approx(0.5 * (0.5 + 1.0))
    loss = actor_loss(
        tf.constant([0.5, -0.5]), tf.constant([1.0, 2.0]), tf.constant([2.0, 1.0]), 0.2
    )
    assert float(loss) == pytest.approx(np.mean([0.1 - 1.0, -0.1 - 1.0]))


def test_temperature_loss_value_and_gradient_direction():
    log_alpha = tf.Variable(math.log(0.5))
    log_prob = tf.constant([-1.0, 0.0])  # entropy 0.5 on average, above the target of -2
    with tf.GradientTape() as tape:
        loss = temperature_loss(log_alpha, log_prob, target_entropy=-2.0)
    assert float(loss) == pytest.approx(-math.log(0.5) * -2.5, rel=1e-6)
    gradient = float(tape.gradient(loss, log_alpha))
    assert gradient == pytest.approx(2.5)  # descent lowers alpha: entropy is above target
    with tf.GradientTape() as tape:
        loss = temperature_loss(log_alpha, tf.constant([3.0]), target_entropy=-2.0)
    assert float(tape.gradient(loss, log_alpha)) == pytest.approx(-1.0)  # too little: raise it


def test_squashed_gaussian_log_prob_matches_the_change_of_variables():
    u = np.array([[0.0, 1.0]], np.float32)
    mean = np.array([[0.0, 0.0]], np.float32)
    log_std = np.array([[0.0, math.log(2.0)]], np.float32)
    std = np.exp(log_std)
    gaussian = -0.5 * ((u - mean) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi)
    expected = np.sum(gaussian - np.log(1 - np.tanh(u) ** 2))  # by hand: -0.9189 - 0.8695
    assert expected == pytest.approx(-0.9189385 - 0.8695240, abs=1e-5)
    assert float(squashed_log_prob(u, mean, log_std)[0]) == pytest.approx(expected, abs=1e-5)


def test_policy_output_splits_into_mean_and_clipped_log_std():
    mean, log_std = split_policy_output(tf.constant([[0.3, -50.0], [0.1, 9.0]]))
    np.testing.assert_allclose(mean.numpy().ravel(), [0.3, 0.1])
    np.testing.assert_allclose(log_std.numpy().ravel(), [-20.0, 2.0])


class FixedRandom:
    """An rng whose ``random`` returns fixed numbers (so the goals drawn are known)."""

    def __init__(self, values):
        self.values = np.asarray(values)

    def random(self, shape):
        assert self.values.shape == tuple(shape)
        return self.values


def _episode():
    episode = Episode()
    achieved = [1.0, 2.0, 3.0]  # after each step
    rewards = [-14.0, -3.0, -2.0]  # -|ag - 5|, the first with a -10 collision penalty
    for t in range(3):
        obs = {"observation": [10.0 + t], "achieved_goal": [float(t)], "desired_goal": [5.0]}
        next_obs = {
            "observation": [11.0 + t],
            "achieved_goal": [achieved[t]],
            "desired_goal": [5.0],
        }
        episode.add(obs, [0.1 * t], rewards[t], next_obs, 0.9 if t < 2 else 0.0)
    return episode


def test_future_goal_indices_lie_between_the_step_and_the_episode_end():
    rng = FixedRandom([[0.0, 0.99], [0.5, 0.0], [0.3, 0.9]])
    np.testing.assert_array_equal(future_goal_indices(3, 2, rng), [[0, 2], [2, 1], [2, 2]])
    drawn = future_goal_indices(50, 8, np.random.default_rng(0))
    assert np.all(drawn >= np.arange(50)[:, None]) and np.all(drawn < 50)


def test_relabel_swaps_the_goal_part_of_the_reward_and_keeps_the_rest():
    def reward(achieved, desired, info):
        return -np.abs(achieved - desired).sum(axis=-1)

    rng = FixedRandom([[0.0, 0.99], [0.5, 0.0], [0.3, 0.9]])
    copies = relabel(_episode(), 2, reward, rng)
    # step 0 gets the goals reached after steps 0 and 2 (1 and 3), step 1 those of steps 2, 1
    np.testing.assert_allclose(copies["obs"][:, 1], [1, 3, 3, 2, 3, 3])
    np.testing.assert_allclose(copies["obs"][:, 0], [10, 10, 11, 11, 12, 12])
    np.testing.assert_allclose(copies["next_obs"][:, 0], [11, 11, 12, 12, 13, 13])
    np.testing.assert_allclose(copies["next_obs"][:, 1], copies["obs"][:, 1])
    # r' = r - R(ag', 5) + R(ag', g'):  -14 + 4 - 0, -14 + 4 - 2, -3 + 3 - 1, -3 + 3 - 0, 0, 0
    np.testing.assert_allclose(copies["reward"], [-10, -12, -1, 0, 0, 0])
    np.testing.assert_allclose(copies["discount"], [0.9, 0.9, 0.9, 0.9, 0.0, 0.0])
    np.testing.assert_allclose(copies["action"][:, 0], [0, 0, 0.1, 0.1, 0.2, 0.2], atol=1e-7)
    with pytest.raises(ValueError, match="k >= 1"):
        relabel(_episode(), 0, reward, rng)

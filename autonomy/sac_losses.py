"""The soft actor-critic losses (Haarnoja et al., 2018), as small TF functions tests check by hand.

The policy is a tanh-squashed Gaussian: ``a = tanh(u)``, ``u ~ N(mean, exp(log_std))``; its log
density carries the change-of-variables term ``-sum log(1 - tanh(u)^2)``. Twin critics fight
overestimation (the target takes the smaller one), and the temperature ``alpha`` is tuned so the
policy's entropy stays near ``target_entropy`` (``-action_dim`` by default, as in SB3).
"""

from __future__ import annotations

import math

import tensorflow as tf

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # SB3's clip of the policy's log standard deviation
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def split_policy_output(outputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The actor's ``[N, 2A]`` output as ``(mean, log_std)``, ``log_std`` clipped to [-20, 2]."""
    mean, log_std = tf.split(outputs, 2, axis=-1)
    return mean, tf.clip_by_value(log_std, LOG_STD_MIN, LOG_STD_MAX)


def squashed_log_prob(pre_tanh: tf.Tensor, mean: tf.Tensor, log_std: tf.Tensor) -> tf.Tensor:
    """``log pi(tanh(u))`` per sample: the Gaussian log density of ``u`` minus
    ``sum log(1 - tanh(u)^2)``, written as ``2 (log 2 - u - softplus(-2u))`` (stable)."""
    z = (pre_tanh - mean) * tf.exp(-log_std)
    gaussian = -0.5 * tf.square(z) - log_std - _HALF_LOG_2PI
    log_det = 2.0 * (math.log(2.0) - pre_tanh - tf.nn.softplus(-2.0 * pre_tanh))
    return tf.reduce_sum(gaussian - log_det, axis=-1)


def sample_action(
    mean: tf.Tensor, log_std: tf.Tensor, noise: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Reparameterised sample ``tanh(mean + std * noise)`` in [-1, 1] and its log probability."""
    pre_tanh = mean + tf.exp(log_std) * noise
    return tf.tanh(pre_tanh), squashed_log_prob(pre_tanh, mean, log_std)


def critic_targets(rewards, discounts, next_q1, next_q2, next_log_prob, alpha) -> tf.Tensor:
    """Soft TD target ``r + discount * (min(Q1', Q2') - alpha * log pi(a'|s'))`` with
    ``a' ~ pi(.|s')`` and ``discount = gamma`` (0 after a termination)."""
    soft_value = tf.minimum(next_q1, next_q2) - alpha * next_log_prob
    return tf.cast(rewards, tf.float32) + tf.cast(discounts, tf.float32) * soft_value


def critic_loss(q1: tf.Tensor, q2: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """``0.5 * (MSE(Q1, y) + MSE(Q2, y))`` (SB3's critic loss)."""
    return 0.5 * (tf.reduce_mean(tf.square(q1 - targets)) + tf.reduce_mean(tf.square(q2 - targets)))


def actor_loss(log_prob: tf.Tensor, q1: tf.Tensor, q2: tf.Tensor, alpha) -> tf.Tensor:
    """``mean(alpha * log pi(a|s) - min(Q1, Q2)(s, a))`` for ``a ~ pi(.|s)``: high soft value."""
    return tf.reduce_mean(alpha * log_prob - tf.minimum(q1, q2))


def temperature_loss(log_alpha: tf.Tensor, log_prob: tf.Tensor, target_entropy: float) -> tf.Tensor:
    """``-mean(log_alpha * (log pi + target_entropy))``: alpha grows when the entropy
    ``-log pi`` falls below the target and shrinks above it (``log_prob`` is not differentiated)."""
    return -tf.reduce_mean(log_alpha * tf.stop_gradient(log_prob + target_entropy))

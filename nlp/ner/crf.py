"""Linear-chain CRF for sequence labelling: a Keras layer, its loss, in-graph Viterbi and marginals.

tensorflow-addons (which had ``crf_log_likelihood`` / ``crf_decode``) is gone, so this module
rebuilds them with core TF ops (``tf.scan``, ``reduce_logsumexp``), which also keeps exported
taggers loadable by stock TF Serving.

Design: the ``CRF`` layer turns per-token emission scores ``[B, T, K]`` into pairwise potentials
``[B, T, K, K]`` (``potentials[b, t, i, j]`` = score of tag ``i`` at ``t-1`` followed by ``j`` at
``t``; step 0 holds the start scores in every row). Loss and decoding are then plain functions of
the layer output, so the model compiles with an ordinary Keras loss (``CRFLoss``) and saves and
loads with ``safe_mode=True`` without a custom training step.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="dlsuite")
class CRF(keras.layers.Layer):
    """Emissions ``[B, T, K]`` -> pairwise potentials ``[B, T, K, K]`` with learned transitions."""

    def __init__(self, num_tags: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if num_tags < 1:
            raise ValueError(f"num_tags must be at least 1, got {num_tags}")
        self.num_tags = int(num_tags)

    def build(self, input_shape) -> None:
        if input_shape[-1] is not None and input_shape[-1] != self.num_tags:
            raise ValueError(
                f"CRF expects {self.num_tags} emission scores per token, got {input_shape[-1]}"
            )
        self.transitions = self.add_weight(
            name="transitions", shape=(self.num_tags, self.num_tags), initializer="zeros"
        )
        self.start_scores = self.add_weight(
            name="start_scores", shape=(self.num_tags,), initializer="zeros"
        )

    def call(self, emissions):
        emissions = tf.cast(emissions, self.compute_dtype)
        pairwise = emissions[:, :, tf.newaxis, :] + self.transitions[tf.newaxis, tf.newaxis]
        start = tf.broadcast_to(
            (emissions[:, 0] + self.start_scores)[:, tf.newaxis, :],
            tf.shape(pairwise[:, 0]),
        )
        return tf.concat([start[:, tf.newaxis], pairwise[:, 1:]], axis=1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_tags, self.num_tags)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_tags": self.num_tags}


def _time_major(potentials: tf.Tensor, lengths: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    steps = tf.shape(potentials)[1]
    mask = tf.sequence_mask(lengths, steps)  # [B, T]
    return tf.transpose(potentials, [1, 0, 2, 3]), tf.transpose(mask)


def crf_log_norm(potentials: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """log Z per sequence ``[B]`` (forward algorithm); length-0 sequences give 0."""
    pots, mask = _time_major(tf.convert_to_tensor(potentials), lengths)
    first = pots[0, :, 0, :]

    def forward(alpha, inputs):
        pot, valid = inputs
        new = tf.reduce_logsumexp(alpha[:, :, tf.newaxis] + pot, axis=1)
        return tf.where(valid[:, tf.newaxis], new, alpha)

    alphas = tf.scan(forward, (pots[1:], mask[1:]), initializer=first)
    last = tf.concat([first[tf.newaxis], alphas], 0)[-1]
    return tf.where(lengths > 0, tf.reduce_logsumexp(last, axis=1), tf.zeros_like(last[:, 0]))


def crf_sequence_score(potentials: tf.Tensor, tags: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """Unnormalised score of the given tag paths ``[B]``."""
    potentials = tf.convert_to_tensor(potentials)
    tags = tf.maximum(tf.cast(tags, tf.int32), 0)
    mask = tf.cast(tf.sequence_mask(lengths, tf.shape(tags)[1]), potentials.dtype)
    previous = tf.concat([tf.zeros_like(tags[:, :1]), tags[:, :-1]], axis=1)
    index = tf.stack([previous, tags], axis=-1)
    scores = tf.gather_nd(potentials, index, batch_dims=2)  # [B, T]
    return tf.reduce_sum(scores * mask, axis=1)


def crf_nll(potentials: tf.Tensor, tags: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """Negative log-likelihood of ``tags`` per sequence ``[B]``."""
    return crf_log_norm(potentials, lengths) - crf_sequence_score(potentials, tags, lengths)


def crf_decode(potentials: tf.Tensor, lengths: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Viterbi: best tag path ``[B, T]`` (int32, 0 after each length) and its score ``[B]``."""
    potentials = tf.convert_to_tensor(potentials)
    pots, mask = _time_major(potentials, lengths)
    num_tags = tf.shape(potentials)[-1]
    first = pots[0, :, 0, :]
    identity = tf.broadcast_to(tf.range(num_tags), tf.shape(first))

    def forward(carry, inputs):
        delta, _ = carry
        pot, valid = inputs
        scores = delta[:, :, tf.newaxis] + pot
        best = tf.reduce_max(scores, axis=1)
        pointer = tf.argmax(scores, axis=1, output_type=tf.int32)
        return (
            tf.where(valid[:, tf.newaxis], best, delta),
            tf.where(valid[:, tf.newaxis], pointer, identity),
        )

    deltas, pointers = tf.scan(forward, (pots[1:], mask[1:]), initializer=(first, identity))
    final = tf.concat([first[tf.newaxis], deltas], 0)[-1]
    last_tag = tf.argmax(final, axis=1, output_type=tf.int32)

    def backward(tag, pointer):
        return tf.gather(pointer, tag, batch_dims=1)

    earlier = tf.scan(backward, pointers, initializer=last_tag, reverse=True)  # tags at 0..T-2
    path = tf.transpose(tf.concat([earlier, last_tag[tf.newaxis]], 0))
    path = tf.where(tf.sequence_mask(lengths, tf.shape(path)[1]), path, tf.zeros_like(path))
    score = tf.where(lengths > 0, tf.reduce_max(final, axis=1), tf.zeros_like(final[:, 0]))
    return path, score


def crf_marginals(potentials: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """Per-token tag probabilities ``[B, T, K]`` (forward-backward); zeros after each length."""
    potentials = tf.convert_to_tensor(potentials)
    pots, mask = _time_major(potentials, lengths)
    first = pots[0, :, 0, :]

    def forward(alpha, inputs):
        pot, valid = inputs
        return tf.where(
            valid[:, tf.newaxis], tf.reduce_logsumexp(alpha[:, :, tf.newaxis] + pot, 1), alpha
        )

    alphas = tf.concat(
        [first[tf.newaxis], tf.scan(forward, (pots[1:], mask[1:]), initializer=first)], 0
    )

    def backward(beta, inputs):
        pot, valid = inputs  # potentials and mask of step t+1
        new = tf.reduce_logsumexp(pot + beta[:, tf.newaxis, :], axis=2)
        return tf.where(valid[:, tf.newaxis], new, tf.zeros_like(beta))

    zeros = tf.zeros_like(first)
    betas = tf.scan(backward, (pots[1:], mask[1:]), initializer=zeros, reverse=True)
    betas = tf.concat([betas, zeros[tf.newaxis]], 0)
    log_z = tf.reduce_logsumexp(alphas[-1], axis=1)
    marginals = tf.exp(alphas + betas - log_z[tf.newaxis, :, tf.newaxis])
    marginals = tf.transpose(marginals, [1, 0, 2])
    return marginals * tf.cast(
        tf.sequence_mask(lengths, tf.shape(marginals)[1])[..., tf.newaxis], marginals.dtype
    )


@keras.saving.register_keras_serializable(package="dlsuite")
class CRFLoss(keras.losses.Loss):
    """Mean CRF negative log-likelihood; ``y_true`` is ``[B, T]`` tag ids, negative = padding."""

    def __init__(self, name: str = "crf_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        tags = tf.cast(tf.round(tf.cast(y_true, tf.float32)), tf.int32)
        lengths = tf.reduce_sum(tf.cast(tags >= 0, tf.int32), axis=1)
        return crf_nll(tf.cast(y_pred, tf.float32), tags, lengths)

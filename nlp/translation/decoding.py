"""In-graph greedy and beam search (``tf.while_loop``, core ops only) for sequence-to-sequence
models, and prompted sampling (temperature, top-k, top-p) for decoder-only language models.

Both searches drive a ``step_fn(prefix_ids [N, t], state) -> (log_probs [N, V], state)`` for
the next token, where ``state`` is a (possibly empty) tuple of tensors with one row per
hypothesis, such as a decoder's key/value caches, that the search carries and, in beam search,
reorders with the hypotheses. They run batched, stop when every row has produced the
end-of-sequence id or after ``max_length``
tokens, and return ``(ids [B, T], scores [B], lengths [B])``. ``ids`` exclude the start token,
include the end token when one was produced and are padded with ``pad_id`` after it.

``prompted_sample_search`` drives the same kind of step function from per-row prompts (used by
``nlp.generation``): it feeds each prompt, then greedy or seeded stateless sampling.

Score convention of greedy and beam search (shared, so they are comparable): the sum of token
log-probabilities (end token included) divided by the GNMT length penalty
``((5 + length) / 6) ** alpha``; ``alpha = 0`` gives the plain sum of log-probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

StepFn = Callable[[tf.Tensor, tuple], tuple[tf.Tensor, tuple]]
NEG_INF = -1e9  # finite, so sums of masked scores never turn into NaN


class Decoded(NamedTuple):
    """Best sequence per input row: ``ids [B, T]``, ``scores [B]``, ``lengths [B]``."""

    ids: tf.Tensor
    scores: tf.Tensor
    lengths: tf.Tensor


def length_penalty(lengths: tf.Tensor, alpha: float) -> tf.Tensor:
    """GNMT length normaliser ``((5 + length) / 6) ** alpha`` (1 when ``alpha == 0``)."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, float(alpha))


def _row_shapes(state: tuple) -> tuple:
    """Loop shape invariants of ``state``: any number of rows, other dimensions fixed."""
    return tuple(tf.TensorShape([None, *x.shape[1:]]) for x in state)


def _check(max_length: int, beam_size: int = 1) -> None:
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")


def greedy_search(
    step_fn: StepFn,
    batch_size: tf.Tensor | int,
    bos_id: int,
    eos_id: int,
    max_length: int,
    alpha: float = 0.0,
    pad_id: int = 0,
    state: tuple = (),
) -> Decoded:
    """Pick the most likely next token at every step; finished rows emit ``pad_id`` at no cost."""
    _check(max_length)
    ids = tf.fill(tf.stack([batch_size, 1]), tf.constant(bos_id, tf.int32))
    log_prob = tf.zeros([batch_size], tf.float32)
    finished = tf.zeros([batch_size], tf.bool)
    lengths = tf.zeros([batch_size], tf.int32)

    def body(ids, log_prob, finished, lengths, state):
        step_log_probs, state = step_fn(ids, state)
        step_log_probs = tf.cast(step_log_probs, tf.float32)
        token = tf.argmax(step_log_probs, axis=-1, output_type=tf.int32)
        token_log_prob = tf.reduce_max(step_log_probs, axis=-1)
        token = tf.where(finished, pad_id, token)
        log_prob += tf.where(finished, 0.0, token_log_prob)
        lengths += tf.cast(tf.logical_not(finished), tf.int32)
        finished |= tf.equal(token, eos_id)
        return [tf.concat([ids, token[:, tf.newaxis]], axis=1), log_prob, finished, lengths, state]

    ids, log_prob, _, lengths, _ = tf.while_loop(
        lambda ids, log_prob, finished, lengths, state: tf.logical_not(tf.reduce_all(finished)),
        body,
        [ids, log_prob, finished, lengths, tuple(state)],
        shape_invariants=[
            tf.TensorShape([None, None]),
            *[tf.TensorShape([None])] * 3,
            _row_shapes(state),
        ],
        maximum_iterations=max_length,
    )
    return Decoded(ids[:, 1:], log_prob / length_penalty(lengths, alpha), lengths)


def beam_search(
    step_fn: StepFn,
    batch_size: tf.Tensor | int,
    beam_size: int,
    bos_id: int,
    eos_id: int,
    max_length: int,
    alpha: float = 0.6,
    pad_id: int = 0,
    state: tuple = (),
) -> Decoded:
    """Keep the ``beam_size`` best hypotheses (by length-normalised score) per row.

    ``step_fn`` sees ``batch_size * beam_size`` rows, batch-major (row ``b * K + k`` is beam
    ``k`` of input ``b``): tile per-input tensors such as encoder outputs, and ``state``, with
    ``tf.repeat(x, beam_size, axis=0)``; ``state`` rows follow their hypotheses. A finished
    hypothesis stays in the beam with a frozen
    score and competes with the live ones; a row is done when its best finished hypothesis
    scores above anything a live one could still reach.
    """
    _check(max_length, beam_size)
    k = beam_size
    ids = tf.fill(tf.stack([batch_size, k, 1]), tf.constant(bos_id, tf.int32))
    # Only beam 0 is live at the start, so the first step does not pick K copies of one token.
    log_prob = tf.tile(
        tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], 0)[tf.newaxis], tf.stack([batch_size, 1])
    )
    finished = tf.zeros(tf.stack([batch_size, k]), tf.bool)
    lengths = tf.zeros(tf.stack([batch_size, k]), tf.int32)

    def body(ids, log_prob, finished, lengths, state):
        steps = tf.shape(ids)[2]
        step_log_probs, state = step_fn(tf.reshape(ids, [-1, steps]), state)
        step_log_probs = tf.cast(step_log_probs, tf.float32)
        vocabulary = tf.shape(step_log_probs)[-1]
        step_log_probs = tf.reshape(step_log_probs, tf.stack([batch_size, k, vocabulary]))
        pad_only = tf.where(tf.equal(tf.range(vocabulary), pad_id), 0.0, NEG_INF)
        step_log_probs = tf.where(finished[..., tf.newaxis], pad_only, step_log_probs)
        candidate_log_prob = log_prob[..., tf.newaxis] + step_log_probs  # [B, K, V]
        candidate_length = lengths + tf.cast(tf.logical_not(finished), tf.int32)  # [B, K]
        normalised = candidate_log_prob / length_penalty(candidate_length, alpha)[..., tf.newaxis]
        _, best = tf.math.top_k(tf.reshape(normalised, tf.stack([batch_size, k * vocabulary])), k=k)
        beam, token = best // vocabulary, best % vocabulary
        log_prob = tf.gather(
            tf.reshape(candidate_log_prob, tf.stack([batch_size, k * vocabulary])),
            best,
            batch_dims=1,
        )
        lengths = tf.gather(candidate_length, beam, batch_dims=1)
        finished = tf.gather(finished, beam, batch_dims=1) | tf.equal(token, eos_id)
        ids = tf.concat([tf.gather(ids, beam, batch_dims=1), token[..., tf.newaxis]], axis=2)
        rows = tf.reshape(
            beam + k * tf.range(batch_size)[:, tf.newaxis], [-1]
        )  # flat source row of each new hypothesis
        state = tuple(tf.gather(x, rows) for x in state)
        return [ids, log_prob, finished, lengths, state]

    best_possible_penalty = length_penalty(max_length, alpha)

    def undecided(ids, log_prob, finished, lengths, state):
        # A row is decided once its best finished hypothesis beats the best score any live one
        # could still reach: log-probs only fall, and the length penalty grows to at most
        # ``length_penalty(max_length)``.
        finished_best = tf.reduce_max(
            tf.where(finished, log_prob / length_penalty(lengths, alpha), -np.inf), 1
        )
        alive_bound = tf.reduce_max(
            tf.where(finished, -np.inf, log_prob / best_possible_penalty), 1
        )
        return tf.reduce_any(finished_best < alive_bound)

    ids, log_prob, finished, lengths, _ = tf.while_loop(
        undecided,
        body,
        [ids, log_prob, finished, lengths, tuple(state)],
        shape_invariants=[
            tf.TensorShape([None, k, None]),
            *[tf.TensorShape([None, k])] * 3,
            _row_shapes(state),
        ],
        maximum_iterations=max_length,
    )
    scores = log_prob / length_penalty(lengths, alpha)
    # Finished hypotheses win over live ones; rows cut at max_length have only live ones.
    any_finished = tf.reduce_any(finished, axis=1, keepdims=True)
    ranked = tf.where(finished | tf.logical_not(any_finished), scores, -np.inf)
    best = tf.argmax(ranked, axis=1, output_type=tf.int32)
    return Decoded(
        tf.gather(ids, best, batch_dims=1)[:, 1:],
        tf.gather(scores, best, batch_dims=1),
        tf.gather(lengths, best, batch_dims=1),
    )


def pad_to_same_width(a: tf.Tensor, b: tf.Tensor, pad_id: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """Right-pad two ``[B, T]`` id matrices with ``pad_id`` to the wider of the two."""
    width = tf.maximum(tf.shape(a)[1], tf.shape(b)[1])

    def pad(x: tf.Tensor) -> tf.Tensor:
        return tf.pad(x, [[0, 0], [0, width - tf.shape(x)[1]]], constant_values=pad_id)

    return pad(a), pad(b)


def best_of(first: Decoded, second: Decoded, pad_id: int = 0) -> Decoded:
    """Row-wise the higher-scoring of two decodings (ties keep ``first``)."""
    first_ids, second_ids = pad_to_same_width(first.ids, second.ids, pad_id)
    take_second = second.scores > first.scores
    return Decoded(
        tf.where(take_second[:, tf.newaxis], second_ids, first_ids),
        tf.where(take_second, second.scores, first.scores),
        tf.where(take_second, second.lengths, first.lengths),
    )


# --------------------------------------------------------------------------- sampling
def filter_logits(
    logits: tf.Tensor, temperature: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor
) -> tf.Tensor:
    """Temperature-scaled logits ``[B, V]`` with everything outside the top-k / nucleus at NEG_INF.

    ``top_k == 0`` keeps every token; the nucleus is the smallest set of most likely tokens
    (after top-k) whose probability reaches ``top_p`` (``top_p == 1`` keeps them all). The most
    likely token is always kept, and ties at the cut are kept together. Core ops only.
    """
    scaled = tf.cast(logits, tf.float32) / tf.cast(temperature, tf.float32)
    vocabulary = tf.shape(scaled)[-1]
    k = tf.where(top_k > 0, tf.minimum(tf.cast(top_k, tf.int32), vocabulary), vocabulary)
    ranked = tf.sort(scaled, axis=-1, direction="DESCENDING")
    in_top_k = tf.range(vocabulary)[tf.newaxis] < k
    ranked = tf.where(in_top_k, ranked, NEG_INF)
    mass_before = tf.math.cumsum(tf.nn.softmax(ranked, axis=-1), axis=-1, exclusive=True)
    kept = in_top_k & (mass_before < tf.cast(top_p, tf.float32))
    threshold = tf.reduce_min(tf.where(kept, ranked, np.inf), axis=-1, keepdims=True)
    return tf.where(scaled >= threshold, scaled, NEG_INF)


def sample_tokens(
    log_probs: tf.Tensor,
    position: tf.Tensor,
    greedy: tf.Tensor,
    temperature: tf.Tensor,
    top_k: tf.Tensor,
    top_p: tf.Tensor,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Next token ``[B]`` (int32): the arg-max when ``greedy``, else a sample of the filtered
    distribution drawn with the Gumbel-max trick.

    The Gumbel noise is ``stateless_uniform([V], seed=(seed, position))``: it depends on the seed
    and the absolute position only, so a prompt's continuation does not depend on which other
    prompts share its batch, and the same graph gives the same text in Python and in a SavedModel.
    """
    vocabulary = tf.shape(log_probs)[-1]
    uniform = tf.random.stateless_uniform(
        tf.expand_dims(vocabulary, 0),
        seed=tf.cast(tf.stack([seed, position]), tf.int64),
        minval=1e-20,
        maxval=1.0,
    )
    gumbel = -tf.math.log(-tf.math.log(uniform))
    filtered = filter_logits(log_probs, temperature, top_k, top_p)
    sampled = tf.argmax(filtered + gumbel[tf.newaxis], axis=-1, output_type=tf.int32)
    return tf.where(greedy, tf.argmax(log_probs, axis=-1, output_type=tf.int32), sampled)


def prompted_sample_search(
    step_fn: StepFn,
    prompt_ids: tf.Tensor,
    prompt_lengths: tf.Tensor,
    max_length: tf.Tensor | int,
    greedy: tf.Tensor | bool,
    temperature: tf.Tensor | float = 1.0,
    top_k: tf.Tensor | int = 0,
    top_p: tf.Tensor | float = 1.0,
    seed: tf.Tensor | int = 0,
    banned_ids: tuple[int, ...] = (),
    state: tuple = (),
) -> tuple[tf.Tensor, tf.Tensor]:
    """Continue each prompt by ``max_length`` tokens: ``(ids [B, max_length], log_prob [B])``.

    ``prompt_ids [B, P]`` hold prompts of ``prompt_lengths [B]`` (>= 1) tokens, right-padded.
    Every row starts at position 0 and is fed its own prompt one token at a time (the step
    function's caches fill as it goes), so prompts of different lengths share one batch without
    shifting positions; past its prompt a row takes ``sample_tokens``. ``log_prob`` sums the
    model's (unfiltered) log-probabilities of the generated tokens; ``banned_ids`` (padding,
    unknown) are never generated. The state must have room for ``max(prompt_lengths) +
    max_length`` positions.
    """
    prompt_ids = tf.cast(prompt_ids, tf.int32)
    prompt_lengths = tf.cast(prompt_lengths, tf.int32)
    max_length = tf.cast(max_length, tf.int32)
    total = tf.reduce_max(prompt_lengths) + max_length
    batch = tf.shape(prompt_ids)[0]
    forced = tf.pad(prompt_ids, [[0, 0], [0, max_length]])  # prompt, then room to generate
    options = [tf.convert_to_tensor(x) for x in (greedy, temperature, top_k, top_p, seed)]
    log_prob = tf.zeros([batch], tf.float32)

    def body(ids, log_prob, state):
        position = tf.shape(ids)[1]  # index of the token chosen now
        step_log_probs, state = step_fn(ids, state)
        step_log_probs = tf.cast(step_log_probs, tf.float32)
        if banned_ids:
            banned = tf.reduce_any(
                tf.equal(tf.range(tf.shape(step_log_probs)[-1])[:, tf.newaxis], list(banned_ids)),
                axis=1,
            )
            step_log_probs = tf.where(banned[tf.newaxis], NEG_INF, step_log_probs)
        token = sample_tokens(step_log_probs, tf.cast(position, tf.int32), *options)
        in_prompt = position < prompt_lengths
        token = tf.where(in_prompt, forced[:, position], token)
        generated = (position >= prompt_lengths) & (position < prompt_lengths + max_length)
        chosen = tf.gather(step_log_probs, token, batch_dims=1)
        log_prob += tf.where(generated, chosen, 0.0)
        return [tf.concat([ids, token[:, tf.newaxis]], axis=1), log_prob, state]

    ids, log_prob, _ = tf.while_loop(
        lambda ids, log_prob, state: tf.shape(ids)[1] < total,
        body,
        [prompt_ids[:, :1], log_prob, tuple(state)],
        shape_invariants=[
            tf.TensorShape([None, None]),
            tf.TensorShape([None]),
            _row_shapes(state),
        ],
    )
    positions = prompt_lengths[:, tf.newaxis] + tf.range(max_length)[tf.newaxis]
    return tf.gather(ids, positions, batch_dims=1), log_prob

"""In-graph greedy and beam search on small hand-made "models" (bigram log-prob tables)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf

from nlp.translation.decoding import beam_search, best_of, greedy_search, length_penalty

PAD, BOS, EOS = 0, 1, 2


def bigram_model(vocabulary: int, seed: int, eos_bias: float = 0.0):
    """A step function whose next-token log-probs depend on the previous token only."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=(vocabulary, vocabulary)).astype(np.float32)
    logits[:, PAD] = logits[:, BOS] = -1e4  # never generated
    logits[:, EOS] += eos_bias
    table = tf.constant(tf.nn.log_softmax(logits, axis=-1))
    return lambda prefix, state: (tf.gather(table, prefix[:, -1]), state), table.numpy()


def brute_force_best(table: np.ndarray, max_length: int, alpha: float) -> float:
    """Highest score over every sequence of up to ``max_length`` tokens (ends at EOS or the
    limit)."""
    best = -np.inf
    tokens = range(EOS, table.shape[0])
    for length in range(1, max_length + 1):
        for sequence in itertools.product(tokens, repeat=length):
            if EOS in sequence[:-1] or (length < max_length and sequence[-1] != EOS):
                continue
            previous, total = BOS, 0.0
            for token in sequence:
                total += table[previous, token]
                previous = token
            best = max(best, total / ((5 + length) / 6) ** alpha)
    return best


@pytest.mark.parametrize(("seed", "alpha"), [(0, 0.0), (1, 0.6), (2, 1.0)])
def test_beam_of_one_equals_greedy(seed, alpha):
    step, _ = bigram_model(12, seed, eos_bias=1.0)
    greedy = greedy_search(step, 1, BOS, EOS, max_length=9, alpha=alpha)
    beam = beam_search(step, 1, 1, BOS, EOS, max_length=9, alpha=alpha)
    np.testing.assert_array_equal(beam.ids.numpy(), greedy.ids.numpy())
    np.testing.assert_array_equal(beam.lengths.numpy(), greedy.lengths.numpy())
    np.testing.assert_allclose(beam.scores.numpy(), greedy.scores.numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_wide_beam_finds_the_exact_optimum(alpha):
    step, table = bigram_model(5, seed=3, eos_bias=0.5)
    exact = brute_force_best(table, max_length=4, alpha=alpha)
    wide = beam_search(step, 1, 27, BOS, EOS, max_length=4, alpha=alpha)  # 27 >= 3**3 live prefixes
    assert wide.scores.numpy()[0] == pytest.approx(exact, abs=1e-5)
    greedy = greedy_search(step, 1, BOS, EOS, max_length=4, alpha=alpha)
    assert greedy.scores.numpy()[0] <= exact + 1e-5


def test_beam_with_greedy_fallback_never_scores_below_greedy():
    for seed in range(6):
        step, _ = bigram_model(9, seed, eos_bias=0.3)
        greedy = greedy_search(step, 1, BOS, EOS, max_length=7, alpha=0.6)
        beam = best_of(beam_search(step, 1, 3, BOS, EOS, max_length=7, alpha=0.6), greedy)
        assert beam.scores.numpy()[0] >= greedy.scores.numpy()[0] - 1e-6
        # the reported score is the score of the returned ids under the same convention
        _, table = bigram_model(9, seed, eos_bias=0.3)
        ids = [t for t in beam.ids.numpy()[0] if t != PAD]
        total = sum(table[p, t] for p, t in zip([BOS, *ids[:-1]], ids, strict=True))
        assert beam.scores.numpy()[0] == pytest.approx(
            total / ((5 + len(ids)) / 6) ** 0.6, abs=1e-5
        )


def scripted_model(vocabulary: int, ends_at: list[int]):
    """Row ``b`` emits token 3, 4, 5, ... and EOS once its prefix holds ``ends_at[b]`` tokens."""
    ends = tf.constant(ends_at, tf.int32)

    def step(prefix, state):
        steps = tf.shape(prefix)[1]
        rows = tf.shape(prefix)[0]
        repeat = rows // len(ends_at)
        target = tf.where(steps >= tf.repeat(ends, repeat), EOS, 3 + (steps - 1) % (vocabulary - 3))
        return tf.math.log(tf.one_hot(target, vocabulary) * 0.9 + 0.1 / vocabulary), state

    return step


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_stops_at_end_of_sequence_and_pads_finished_rows(search):
    step = scripted_model(8, ends_at=[3, 4])
    if search == "greedy":
        out = greedy_search(step, 2, BOS, EOS, max_length=20)
    else:
        out = beam_search(step, 2, 3, BOS, EOS, max_length=20, alpha=0.0)
    ids = out.ids.numpy()
    assert ids.shape == (2, 4)  # the loop ended when the last row emitted EOS, far before 20
    assert ids[0].tolist() == [3, 4, EOS, PAD]
    assert ids[1].tolist() == [3, 4, 5, EOS]
    assert out.lengths.numpy().tolist() == [3, 4]


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_stops_at_max_length_without_end_token(search):
    step = scripted_model(8, ends_at=[100])
    if search == "greedy":
        out = greedy_search(step, 1, BOS, EOS, max_length=6)
    else:
        out = beam_search(step, 1, 2, BOS, EOS, max_length=6)
    assert out.ids.shape == (1, 6) and EOS not in out.ids.numpy()[0]
    assert out.lengths.numpy().tolist() == [6]


def test_batched_rows_are_independent():
    step, _ = bigram_model(10, seed=5, eos_bias=0.5)
    alone = [beam_search(step, 1, 3, BOS, EOS, 8).scores.numpy()[0] for _ in range(2)]
    together = beam_search(step, 2, 3, BOS, EOS, 8).scores.numpy()
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_length_penalty_and_argument_checks():
    assert float(length_penalty(1, 0.0)) == 1.0
    assert float(length_penalty(7, 1.0)) == pytest.approx(2.0)
    step, _ = bigram_model(6, seed=0)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(step, 1, 0, BOS, EOS, 5)
    with pytest.raises(ValueError, match="max_length"):
        greedy_search(step, 1, BOS, EOS, 0)


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_state_rows_follow_their_hypotheses(search):
    """State (here: the sum of each hypothesis' earlier tokens, like a cache) is reordered with
    it."""
    step, _ = bigram_model(9, seed=4, eos_bias=0.2)

    def cached(prefix, state):
        (earlier,) = state
        tf.debugging.assert_equal(earlier, tf.reduce_sum(prefix[:, :-1], axis=1))
        log_probs, _ = step(prefix, ())
        return log_probs, (earlier + prefix[:, -1],)

    rows = 2 if search == "greedy" else 2 * 3
    kwargs = dict(bos_id=BOS, eos_id=EOS, max_length=6, state=(tf.zeros([rows], tf.int32),))
    if search == "greedy":
        out, reference = greedy_search(cached, 2, **kwargs), greedy_search(step, 2, BOS, EOS, 6)
    else:
        out, reference = beam_search(cached, 2, 3, **kwargs), beam_search(step, 2, 3, BOS, EOS, 6)
    np.testing.assert_array_equal(out.ids.numpy(), reference.ids.numpy())

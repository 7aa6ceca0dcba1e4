"""CRF: brute-force checks of log Z, Viterbi and marginals; learning; save/load."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from nlp.ner.crf import CRF, CRFLoss, crf_decode, crf_log_norm, crf_marginals, crf_nll


def _brute_force(potentials: np.ndarray, length: int):
    num_tags = potentials.shape[-1]
    scores = {}
    for path in itertools.product(range(num_tags), repeat=length):
        score = potentials[0, 0, path[0]]
        for t in range(1, length):
            score += potentials[t, path[t - 1], path[t]]
        scores[path] = score
    return scores


def _potentials(seed=0, batch=3, steps=4, tags=3):
    rng = np.random.default_rng(seed)
    layer = CRF(tags)
    emissions = rng.normal(size=(batch, steps, tags)).astype("float32")
    layer.build(emissions.shape)
    layer.transitions.assign(rng.normal(size=(tags, tags)).astype("float32"))
    layer.start_scores.assign(rng.normal(size=(tags,)).astype("float32"))
    return layer(emissions).numpy()


def test_log_norm_decode_and_marginals_match_brute_force():
    potentials = _potentials()
    lengths = np.array([4, 2, 1], np.int32)
    log_z = crf_log_norm(potentials, lengths).numpy()
    paths, best = crf_decode(potentials, lengths)
    marginals = crf_marginals(potentials, lengths).numpy()
    for b, length in enumerate(lengths):
        scores = _brute_force(potentials[b], length)
        values = np.array(list(scores.values()))
        np.testing.assert_allclose(log_z[b], np.log(np.exp(values).sum()), rtol=1e-5)
        top = max(scores, key=scores.get)
        assert tuple(paths.numpy()[b, :length]) == top
        assert np.all(paths.numpy()[b, length:] == 0)
        np.testing.assert_allclose(best.numpy()[b], scores[top], rtol=1e-5)
        expected = np.zeros((length, potentials.shape[-1]))
        for path, score in scores.items():
            for t, tag in enumerate(path):
                expected[t, tag] += np.exp(score - log_z[b])
        np.testing.assert_allclose(marginals[b, :length], expected, atol=1e-5)
        assert np.all(marginals[b, length:] == 0)


def test_nll_is_non_negative_and_zero_length_is_zero():
    potentials = _potentials(seed=1)
    tags = np.array([[0, 1, 2, 1], [2, 2, -1, -1], [1, -1, -1, -1]])
    lengths = np.array([4, 2, 1])
    nll = crf_nll(potentials, tags, lengths).numpy()
    assert np.all(nll > 0)
    assert crf_nll(potentials[:1], np.full((1, 4), -1), np.array([0])).numpy()[0] == 0.0


@pytest.mark.slow
def test_crf_model_learns_a_transition_rule_and_round_trips(tmp_path):
    # Tag 1 may only follow tag 1 or 2 ("inside" after "begin"); emissions alone are ambiguous.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(256, 6))
    y = np.where(x == 2, 2, 0)
    y[:, 1:] = np.where((x[:, 1:] == 1) & (y[:, :-1] > 0), 1, y[:, 1:])
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(3, 8)(inputs)
    outputs = CRF(3, name="crf")(keras.layers.Dense(3)(h))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=CRFLoss())
    history = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    paths, _ = crf_decode(model(x[:64]), tf.fill([64], 6))
    assert np.mean(paths.numpy() == y[:64]) > 0.97
    model.save(tmp_path / "crf.keras")
    loaded = keras.saving.load_model(tmp_path / "crf.keras", safe_mode=True)
    np.testing.assert_allclose(loaded(x[:4]).numpy(), model(x[:4]).numpy(), rtol=1e-6)

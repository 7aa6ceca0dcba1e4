"""Bernoulli RBM layer (energies by enumeration), CD-k training and greedy DBN pretraining."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from common.rbm import BernoulliRBM, gibbs_chain, pretrain_dbn, train_rbm


def _rbm(visible: int, hidden: int, seed: int = 0) -> BernoulliRBM:
    rng = np.random.default_rng(seed)
    rbm = BernoulliRBM(hidden)
    rbm.build((None, visible))
    rbm.kernel.assign(rng.normal(size=(visible, hidden)).astype("float32"))
    rbm.hidden_bias.assign(rng.normal(size=hidden).astype("float32"))
    rbm.visible_bias.assign(rng.normal(size=visible).astype("float32"))
    return rbm


def test_hidden_probabilities_and_free_energy_match_enumeration():
    rbm = _rbm(3, 2)
    w, c, b = (np.asarray(v) for v in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias))
    visible = np.array(list(itertools.product([0.0, 1.0], repeat=3)), np.float32)
    np.testing.assert_allclose(np.asarray(rbm(visible)), 1 / (1 + np.exp(-(visible @ w + c))), 1e-5)
    # F(v) = -log sum_h exp(-E(v, h)) with E(v, h) = -v.b - h.c - v W h, h over {0, 1}^2
    hidden = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    energies = (
        -(visible @ b)[:, None] - (hidden @ c)[None] - np.einsum("vi,ij,hj->vh", visible, w, hidden)
    )
    want = -np.log(np.exp(-energies).sum(axis=1))
    np.testing.assert_allclose(np.asarray(rbm.free_energy(visible)), want, rtol=1e-5)


def _bars(count: int, seed: int = 0) -> np.ndarray:
    """4x4 images holding one full horizontal or vertical bar: an easy distribution."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 4, 4), np.float32)
    for image, (vertical, position) in zip(
        images, rng.integers(0, [2, 4], (count, 2)), strict=True
    ):
        if vertical:
            image[:, position] = 1.0
        else:
            image[position] = 1.0
    return images.reshape(count, 16)


def test_cd_training_learns_the_bars():
    data = _bars(400)
    rbm = BernoulliRBM(8)
    errors = train_rbm(rbm, data, epochs=15, batch_size=10, learning_rate=0.1, cd_steps=1)
    assert len(errors) == 15 and errors[-1] < 0.5 * errors[0]
    assert errors[-1] < 0.06  # a uniform guess of 0.25 per pixel would be 0.1875
    assert np.any(np.asarray(rbm.visible_bias) != 0)  # CD trains the visible bias too
    assert not any(v is rbm.visible_bias for v in rbm.trainable_variables)
    # Bars are far more probable under the trained model than random pixels of the same density.
    noise = (np.random.default_rng(1).uniform(size=(400, 16)) < 0.25).astype(np.float32)
    assert np.mean(rbm.free_energy(data)) < np.mean(rbm.free_energy(noise)) - 2.0


def test_gibbs_chain_gives_binary_samples():
    rbm = _rbm(5, 3)
    chain = np.asarray(gibbs_chain(rbm, np.full((6, 5), 0.5, np.float32), 3, np.array([1, 2])))
    assert chain.shape == (6, 5) and set(np.unique(chain)) <= {0.0, 1.0}


def test_pretrain_dbn_stacks_layers_on_hidden_probabilities():
    rbms, histories = pretrain_dbn(_bars(100), [6, 3], epochs=2, batch_size=20)
    assert [r.units for r in rbms] == [6, 3] and [len(h) for h in histories] == [2, 2]
    assert rbms[1].kernel.shape == (6, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.full((3, 4), 2.0), r"must be in \[0, 1\]"),
        (np.array([[0.5, np.nan]]), "NaN"),
        (np.zeros(4), "non-empty"),
        (np.zeros((0, 4)), "non-empty"),
    ],
)
def test_bad_visible_data_is_refused(data, message):
    with pytest.raises(ValueError, match=message):
        train_rbm(BernoulliRBM(2), data, epochs=1)


def test_units_checked_and_visible_count_must_match():
    with pytest.raises(ValueError, match="units >= 1"):
        BernoulliRBM(0)
    with pytest.raises(ValueError, match="visible units"):
        train_rbm(_rbm(3, 2), np.zeros((2, 5)), epochs=1)
    with pytest.raises(ValueError, match="at least one layer"):
        pretrain_dbn(np.zeros((2, 5)), [])


def test_a_model_with_an_rbm_layer_saves_and_loads(tmp_path):
    inputs = keras.Input((16,))
    model = keras.Model(inputs, BernoulliRBM(4, name="rbm")(inputs))
    train_rbm(model.get_layer("rbm"), _bars(40), epochs=1)
    model.save(tmp_path / "rbm.keras")
    loaded = keras.models.load_model(tmp_path / "rbm.keras", safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(_bars(5), verbose=0), model.predict(_bars(5), verbose=0)
    )
    np.testing.assert_array_equal(
        loaded.get_layer("rbm").visible_bias, model.get_layer("rbm").visible_bias
    )

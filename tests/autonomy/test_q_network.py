"""Q-network building blocks: dueling aggregation, DuelingHead, MLP / CNN Q-networks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from autonomy.q_network import DuelingHead, build_q_network, dueling_aggregate, mlp_block


def test_dueling_aggregation_matches_hand_computed_values():
    value = np.array([[2.0], [-1.0]], np.float32)
    advantages = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 6.0]], np.float32)
    q = keras.ops.convert_to_numpy(dueling_aggregate(value, advantages))
    # row 0: mean A = 2 -> 2 + [1, 2, 3] - 2; row 1: mean A = 2 -> -1 + [0, 0, 6] - 2
    np.testing.assert_allclose(q, [[1.0, 2.0, 3.0], [-3.0, -3.0, 3.0]])


def test_dueling_head_uses_value_plus_centred_advantage():
    head = DuelingHead(3, dueling=True)
    features = np.array([[1.0, 2.0]], np.float32)
    head.build(features.shape)
    head.advantage.set_weights(
        [np.array([[1, 0, 0], [0, 1, 0]], np.float32), np.zeros(3, np.float32)]
    )
    head.value.set_weights([np.array([[0.5], [0.5]], np.float32), np.array([1.0], np.float32)])
    q = keras.ops.convert_to_numpy(head(features))
    # A = [1, 2, 0], mean 1; V = 0.5 + 1 + 1 = 2.5 -> Q = 2.5 + [0, 1, -1]
    np.testing.assert_allclose(q, [[2.5, 3.5, 1.5]], rtol=1e-6)
    plain = DuelingHead(3, dueling=False)
    assert plain(features).shape == (1, 3) and plain.value is None


def test_mlp_q_network_shapes_and_keras_round_trip(tmp_path):
    model = build_q_network((25,), 5, hidden_units=(16, 16), dueling=True)
    obs = np.random.default_rng(0).normal(size=(4, 25)).astype(np.float32)
    assert model(obs).shape == (4, 5)
    path = tmp_path / "q.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded(obs), model(obs), rtol=1e-5, atol=1e-6)


def test_cnn_q_network_for_grayscale_stacks():
    model = build_q_network((64, 64, 4), 3, hidden_units=(32,), conv_filters=(8, 16, 16))
    assert model(np.zeros((2, 64, 64, 4), np.float32)).shape == (2, 3)
    assert any(isinstance(layer, keras.layers.Conv2D) for layer in model.layers)


def test_bad_q_network_arguments_raise_value_error():
    with pytest.raises(ValueError, match="flat vectors"):
        build_q_network((5, 5), 5)
    with pytest.raises(ValueError, match="num_actions"):
        DuelingHead(0)
    with pytest.raises(ValueError, match="widths"):
        mlp_block(keras.Input((3,)), [0])

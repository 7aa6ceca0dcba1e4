"""Ego-attention Q-networks: a set encoder (order of other vehicles, absent ones do not matter)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.autonomy.corridor import CORRIDOR_CONFIG


@pytest.fixture(scope="module")
def network():
    from autonomy.q_network import build_q_network

    keras.utils.set_random_seed(0)
    return build_q_network((15,), 3, [16], vehicles_shape=(3, 5))


def _vehicles():
    rng = np.random.default_rng(0)
    vehicles = rng.uniform(-1, 1, (2, 3, 5)).astype(np.float32)
    vehicles[:, :, 0] = 1.0  # all present
    return vehicles


def test_other_vehicles_are_a_set(network):
    vehicles = _vehicles()
    swapped = vehicles[:, [0, 2, 1], :]  # the ego vehicle stays first
    q = network(vehicles.reshape(2, 15)).numpy()
    np.testing.assert_allclose(network(swapped.reshape(2, 15)).numpy(), q, atol=1e-5)
    ego_changed = vehicles[:, [1, 0, 2], :]
    assert not np.allclose(network(ego_changed.reshape(2, 15)).numpy(), q, atol=1e-4)


def test_absent_vehicles_are_masked_out(network):
    vehicles = _vehicles()
    vehicles[:, 2, 0] = 0.0  # the third vehicle is absent...
    other = vehicles.copy()
    other[:, 2, 1:] = 9.0  # ...so its other features do not matter
    np.testing.assert_allclose(
        network(vehicles.reshape(2, 15)).numpy(), network(other.reshape(2, 15)).numpy(), atol=1e-5
    )


def test_saved_network_loads_safely_and_bad_shapes_are_refused(network, tmp_path):
    from autonomy import DQNAgent
    from autonomy.q_network import build_q_network

    network.save(tmp_path / "q.keras")
    loaded = keras.saving.load_model(tmp_path / "q.keras", safe_mode=True)
    batch = _vehicles().reshape(2, 15)
    np.testing.assert_allclose(loaded(batch).numpy(), network(batch).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="vehicles, features"):
        build_q_network((15,), 3, [16], vehicles_shape=(4, 5))
    with pytest.raises(ValueError, match="encoder='ego_attention' needs"):
        DQNAgent(**{**CORRIDOR_CONFIG, "encoder": "ego_attention"})
    with pytest.raises(ValueError, match="encoder must be"):
        DQNAgent(**{**CORRIDOR_CONFIG, "encoder": "transformer"})

"""NumpyQNetwork: the NumPy mirror ``DQNAgent.learn`` acts with must match the Keras Q-network."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from autonomy import DQNAgent
from autonomy.env import grayscale_stack
from autonomy.numpy_q import NumpyQNetwork
from autonomy.q_network import DuelingHead, build_q_network
from tests.autonomy.corridor import CORRIDOR, CORRIDOR_CONFIG


def _fill_replay(agent: DQNAgent, count: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    dim = agent.obs_shape[0]
    for _ in range(count):
        agent.replay.add(
            rng.standard_normal((1, dim)).astype(np.float32),
            rng.integers(0, agent.num_actions, 1),
            rng.standard_normal(1).astype(np.float32),
            rng.standard_normal((1, dim)).astype(np.float32),
            np.full(1, 0.9, np.float32),
        )


@pytest.mark.parametrize("dueling", [True, False])
@pytest.mark.parametrize("hidden_units", [[32], [32, 16]])
def test_mirror_matches_the_q_network_after_gradient_steps(dueling, hidden_units):
    agent = DQNAgent(
        env_name=CORRIDOR,
        hidden_units=hidden_units,
        dueling=dueling,
        learning_rate=1e-2,
        batch_size=16,
        seed=1,
    )
    mirror = agent._rollout_network
    assert isinstance(mirror, NumpyQNetwork) and mirror.dueling == dueling
    observations = np.random.default_rng(2).standard_normal((64, 8)).astype(np.float32)
    before = agent.q_values(observations)
    np.testing.assert_allclose(mirror(observations), before, rtol=1e-5, atol=1e-5)
    _fill_replay(agent, 100)
    for _ in range(20):
        agent._gradient_step()  # each refreshes the mirror from the train step's read-back
    after = agent.q_values(observations)
    assert np.abs(after - before).max() > 1e-2  # the weights really moved
    np.testing.assert_allclose(mirror(observations), after, rtol=1e-5, atol=1e-5)
    assert np.array_equal(np.argmax(mirror(observations), -1), agent.act(observations))


def test_training_with_the_mirror_is_identical_to_training_with_tensorflow():
    config = dict(CORRIDOR_CONFIG, learning_starts=50, exploration_steps=200)
    fast, slow = DQNAgent(**config), DQNAgent(**config)
    slow._rollout_network = None  # learn acts through the TF concrete function instead
    assert fast._rollout_network is not None
    fast.learn(400, log_every=0)
    slow.learn(400, log_every=0)
    assert fast.history == slow.history and fast.num_updates == slow.num_updates > 300
    for mine, theirs in zip(
        fast.q_network.get_weights(), slow.q_network.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(fast.replay.action, slow.replay.action)
    np.testing.assert_array_equal(fast.replay.obs, slow.replay.obs)


def test_mirror_picks_up_weights_set_between_learn_calls():
    config = dict(CORRIDOR_CONFIG, learning_starts=10_000)  # no gradient step refreshes it
    agent = DQNAgent(**config)
    agent.learn(1, log_every=0)
    agent.q_network.set_weights(DQNAgent(**dict(config, seed=5)).q_network.get_weights())
    eye = np.eye(8, dtype=np.float32)
    assert np.abs(agent._rollout_network(eye) - agent.q_values(eye)).max() > 1e-3
    agent.learn(1, log_every=0)  # learn refreshes the mirror before acting
    np.testing.assert_allclose(
        agent._rollout_network(eye), agent.q_values(eye), rtol=1e-5, atol=1e-5
    )


def test_unsupported_networks_get_no_mirror():
    assert NumpyQNetwork.from_network(build_q_network((16, 16, 2), 3, [8])) is None  # CNN
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    assert NumpyQNetwork.from_network(keras.Model(inputs, DuelingHead(3)(hidden))) is None
    # only Dense layers and a head, but one layer applied twice: caught by the probe batch
    shared = keras.layers.Dense(6, activation="relu")
    reused = keras.Model(inputs, DuelingHead(3)(shared(shared(inputs))))
    assert len(reused.layers) == 3 and NumpyQNetwork.from_network(reused) is None
    assert NumpyQNetwork.from_network(build_q_network((6,), 3, [8, 8])) is not None


def test_grayscale_agents_act_through_tensorflow():
    config = grayscale_stack(32, 16)
    agent = DQNAgent(env_name="highway-fast-v0", env_config=config, hidden_units=[16])
    assert agent._rollout_network is None

"""The pieces DQN and SAC share: vector envs, the update schedule, batch and config checks,
the agent base and the agent CLI scaffold."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

from autonomy.agent_cli import AgentTrain
from autonomy.config import check_hidden_units
from autonomy.control_env import make_control_env
from autonomy.env import EnvFactory, make_env, seeded, vector_env
from autonomy.learning import UpdateSchedule
from tests.autonomy.control_envs import STEER
from tests.autonomy.corridor import CORRIDOR


@pytest.mark.parametrize(("make", "name"), [(make_env, CORRIDOR), (make_control_env, STEER)])
def test_env_factory_pickles_and_builds_with_its_maker(make, name):
    factory = pickle.loads(pickle.dumps(EnvFactory(make, name, {})))
    env = factory()
    assert env.observation_space.shape is not None
    env.close()


def test_vector_env_keeps_registered_envs_in_process_and_rejects_no_envs():
    envs = vector_env(make_env, CORRIDOR, 2, True, {})
    assert isinstance(envs, gym.vector.SyncVectorEnv) and envs.num_envs == 2
    envs.close()
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        vector_env(make_control_env, STEER, 0, True, {})


def test_seeded_resets_reproducibly():
    first, _ = seeded(make_env(CORRIDOR), 3).reset()
    again, _ = seeded(make_env(CORRIDOR), 3).reset()
    np.testing.assert_array_equal(first, again)


def _schedule_agent(learning_starts: int, batch_size: int, replay_size: int):
    """A stand-in agent: counts its gradient steps (each returns a loss of 1.0)."""
    agent = SimpleNamespace(
        config=SimpleNamespace(
            learning_starts=learning_starts, batch_size=batch_size, train_freq=2, gradient_steps=3
        ),
        num_timesteps=0,
        replay=[None] * replay_size,
        updates=0,
    )

    def gradient_step() -> float:
        agent.updates += 1
        return 1.0

    agent._gradient_step = gradient_step
    return agent


def test_update_schedule_trains_every_train_freq_vector_steps_once_ready():
    agent = _schedule_agent(learning_starts=10, batch_size=4, replay_size=4)
    schedule = UpdateSchedule(agent)  # type: ignore[arg-type]
    assert np.isnan(schedule.mean_loss())
    agent.num_timesteps = 9
    schedule.step()
    schedule.step()
    assert agent.updates == 0  # before learning_starts
    agent.num_timesteps = 10
    schedule.step()  # vector step 3: not a train_freq multiple
    assert agent.updates == 0
    schedule.step()
    assert agent.updates == 3 and schedule.mean_loss() == 1.0
    agent.replay = [None] * 3  # less than a batch (a resume without buffer)
    schedule.step()
    schedule.step()
    assert agent.updates == 3


def test_check_batch_refuses_empty_and_non_finite_observations():
    from autonomy.agent_base import check_batch

    batch = np.zeros((2, 3), np.float32)
    assert check_batch(batch) is batch
    with pytest.raises(ValueError, match="empty batch"):
        check_batch(np.zeros((0, 3), np.float32))
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_batch(np.array([[0.0, np.inf]], np.float32))


@pytest.mark.parametrize("units", [[], [16, 0]])
def test_hidden_units_must_be_positive_widths(units):
    with pytest.raises(ValueError, match="hidden_units must be positive widths"):
        check_hidden_units(units)


def test_both_agents_share_the_base_and_name_their_loop_pieces():
    from autonomy import DQNAgent, SACAgent
    from autonomy.agent_base import OffPolicyAgent
    from autonomy.dqn_learning import Rollout, TrainingSchedule
    from autonomy.sac_learning import ControlRollout

    assert issubclass(DQNAgent, OffPolicyAgent) and issubclass(SACAgent, OffPolicyAgent)
    assert (DQNAgent.rollout_class, DQNAgent.schedule_class) == (Rollout, TrainingSchedule)
    assert (SACAgent.rollout_class, SACAgent.schedule_class) == (ControlRollout, UpdateSchedule)
    assert DQNAgent.qualified_name() == "autonomy.dqn.DQNAgent"
    assert SACAgent.qualified_name() == "autonomy.sac.SACAgent"


def test_agent_train_spec_names_its_agent():
    spec = AgentTrain(agent="autonomy.sac:SACAgent", config="x:Y", envs="x:Z")
    assert spec.agent_name == "SACAgent" and not spec.save_buffer

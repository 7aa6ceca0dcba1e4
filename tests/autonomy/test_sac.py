"""``SACAgent``: learns a tiny steering task, HER on a goal env, export == act, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from tests.autonomy.control_envs import REACH, STEER, STEER_CONFIG
from tests.conftest import run_fresh_tensorflow


@pytest.fixture(scope="module")
def steer_agent():
    """SAC trained 1,200 steps on Steer-v0 (a few seconds)."""
    from autonomy import SACAgent

    agent = SACAgent(**STEER_CONFIG)
    agent.learn(1200, progress_bar=False, log_every=0)
    return agent


@pytest.fixture(scope="module")
def reach_agent():
    from autonomy import SACAgent

    agent = SACAgent(
        env_name=REACH, hidden_units=[16], batch_size=32, learning_starts=50, her_goals=3, seed=1
    )
    agent.learn(100, progress_bar=False, log_every=0)
    return agent


def test_sac_learns_to_steer(steer_agent):
    from autonomy import SACAgent

    untrained = SACAgent(**STEER_CONFIG).evaluate(episodes=5)
    report = steer_agent.evaluate(episodes=5)
    # random actions lose ~2.1 per step (~-10 per episode); 1,200 steps reach a loss ~0.1/step
    assert report["mean_return"] > -1.5, report
    assert report["mean_return"] > untrained["mean_return"] + 2.0
    assert steer_agent.num_updates == 1200 - 200 + 1
    assert steer_agent.alpha < 1.0  # the temperature was tuned down from its initial value
    actions = steer_agent.act(np.array([[-0.8], [0.0], [0.8]], np.float32))
    assert actions.shape == (3, 1) and np.all(np.abs(actions) <= 2.0)
    np.testing.assert_allclose(actions[:, 0], [-1.2, 0.0, 1.2], atol=0.5)


def test_export_in_a_fresh_process_equals_act(steer_agent, reach_agent, tmp_path):
    """Both signatures (observation; observation + desired_goal), served in one fresh process."""
    observations = np.random.default_rng(0).uniform(-1, 1, (6, 1)).astype(np.float32)
    goals = observations[::-1].copy()
    steer = steer_agent.export(tmp_path / "steer")
    reach = reach_agent.export(tmp_path / "reach")
    np.save(tmp_path / "obs.npy", observations)
    np.save(tmp_path / "goals.npy", goals)
    run_fresh_tensorflow(f"""
        import numpy as np
        obs = tf.constant(np.load({str(tmp_path / "obs.npy")!r}))
        goals = tf.constant(np.load({str(tmp_path / "goals.npy")!r}))
        steer = tf.saved_model.load({str(steer)!r}).signatures["serving_default"]
        reach = tf.saved_model.load({str(reach)!r}).signatures["serving_default"]
        np.save({str(tmp_path / "steer.npy")!r}, steer(observation=obs)["action"].numpy())
        served = reach(observation=obs, desired_goal=goals)["action"].numpy()
        np.save({str(tmp_path / "reach.npy")!r}, served)
    """)
    np.testing.assert_allclose(
        np.load(tmp_path / "steer.npy"), steer_agent.act(observations), atol=1e-5
    )
    expected = reach_agent.act({"observation": observations, "desired_goal": goals})
    np.testing.assert_allclose(np.load(tmp_path / "reach.npy"), expected, atol=1e-5)


def test_her_stores_relabelled_copies_of_finished_episodes(reach_agent):
    assert reach_agent.use_her and reach_agent.goal_conditioned
    # 100 steps = 10 finished episodes: each step once as played plus 3 hindsight copies
    assert len(reach_agent.replay) == 100 * (1 + 3)
    assert reach_agent.replay.obs.shape[1] == 2  # position ++ desired goal
    single = reach_agent.act({"observation": [0.2], "desired_goal": [-0.5]})
    assert single.shape == (1,)
    batch = reach_agent.act([{"observation": [0.2], "desired_goal": [-0.5]}] * 2)
    np.testing.assert_allclose(batch, [single, single], atol=1e-6)
    assert "success_rate" in reach_agent.evaluate(episodes=2)


def test_save_load_round_trip_continues_training(steer_agent, tmp_path):
    from autonomy import SACAgent
    from common.task import load_task

    path = steer_agent.save(tmp_path / "sac.keras", include_buffer=True)
    loaded = SACAgent.load(path)
    probe = np.linspace(-1, 1, 5, dtype=np.float32)[:, None]
    np.testing.assert_allclose(loaded.act(probe), steer_agent.act(probe), atol=1e-6)
    assert loaded.alpha == pytest.approx(steer_agent.alpha)
    assert loaded.num_timesteps == 1200 and len(loaded.replay) == len(steer_agent.replay)
    targets = zip(loaded.critic_target.weights, steer_agent.critic_target.weights, strict=True)
    for mine, theirs in targets:
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert int(loaded.optimizers["actor"].iterations) == steer_agent.num_updates
    assert isinstance(load_task(path), SACAgent)
    loaded.learn(50, progress_bar=False, log_every=0)
    assert loaded.num_timesteps == 1250 and loaded.num_updates == steer_agent.num_updates + 50


def test_bad_inputs_and_envs_give_clear_errors(steer_agent, reach_agent):
    from autonomy import SACAgent

    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(1,\)"):
        steer_agent.act(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        steer_agent.act(np.array([np.nan], np.float32))
    with pytest.raises(ValueError, match="not dicts"):
        steer_agent.act({"observation": [0.0], "desired_goal": [0.0]})
    with pytest.raises(ValueError, match="missing desired_goal"):
        reach_agent.act({"observation": [0.0]})
    with pytest.raises(ValueError, match=r"desired_goal has shape \(2,\)"):
        reach_agent.act({"observation": [0.0], "desired_goal": [0.0, 1.0]})
    with pytest.raises(ValueError, match="unknown environment 'nope-v0'"):
        SACAgent(env_name="nope-v0")
    with pytest.raises(ValueError, match="continuous-control environments"):
        SACAgent(env_name="CartPole-v1")
    with pytest.raises(ValueError, match="goal-conditioned"):
        SACAgent(env_name=STEER, her=True)
    with pytest.raises(ValueError, match="tau"):
        SACAgent(env_name=STEER, tau=0.0)

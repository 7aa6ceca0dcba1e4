"""LookaheadPlanner: plans on simulator copies (the live env is untouched) and drives well."""

from __future__ import annotations

import numpy as np
import pytest

from autonomy import IdleAgent, LookaheadPlanner, make_env
from tests.autonomy.corridor import CORRIDOR


def test_planner_walks_the_corridor_optimally_without_an_idle_action():
    planner = LookaheadPlanner(CORRIDOR, depth=8)
    report = planner.evaluate(episodes=1)
    # 7 RIGHT steps: six at -0.02, then +1 at the goal
    assert report["mean_length"] == 7
    assert report["mean_return"] == pytest.approx(1.0 - 0.02 * 6)


def test_planner_leaves_the_live_env_untouched():
    env = make_env("highway-fast-v0")
    env.reset(seed=3)
    vehicle = env.unwrapped.vehicle
    before = (env.unwrapped.time, env.unwrapped.steps, vehicle.position.copy(), vehicle.speed)
    planner = LookaheadPlanner("highway-fast-v0", depth=2)
    action = planner.plan(env)
    assert 0 <= action < 5
    assert env.unwrapped.vehicle is vehicle
    assert (env.unwrapped.time, env.unwrapped.steps) == before[:2]
    np.testing.assert_array_equal(vehicle.position, before[2])
    assert vehicle.speed == before[3]
    # the planned action's first step earns what its rollout's first step earned
    one_step = LookaheadPlanner("highway-fast-v0", depth=1)
    expected = one_step.rollout_score(env, action)
    _, reward, *_ = env.step(action)
    assert reward == pytest.approx(expected)
    env.close()


def test_planner_avoids_the_crash_that_idle_drives_into():
    seed = 10_000
    idle = IdleAgent("highway-fast-v0").evaluate(episodes=1, seed=seed)
    assert idle["crash_rate"] == 1.0  # the scene: IDLE rear-ends the traffic ahead
    planned = LookaheadPlanner("highway-fast-v0", depth=3).evaluate(episodes=1, seed=seed)
    assert planned["crash_rate"] == 0.0 and planned["mean_length"] == 30
    assert planned["mean_return"] > idle["mean_return"] + 5


def test_planner_records_a_gif(tmp_path):
    summary = LookaheadPlanner("highway-fast-v0", depth=1).record(
        tmp_path / "plan.gif", max_steps=2
    )
    assert summary["frames"] == 3 and (tmp_path / "plan.gif").stat().st_size > 0


def test_planner_rejects_bad_settings_and_observation_only_use():
    for depth in (0, 2.5, "4", True):
        with pytest.raises(ValueError, match="depth must be an integer >= 1"):
            LookaheadPlanner("highway-fast-v0", depth=depth)
    for penalty in (-1, "high", float("nan"), float("inf"), True):
        with pytest.raises(ValueError, match="crash_penalty must be a finite number >= 0"):
            LookaheadPlanner("highway-fast-v0", crash_penalty=penalty)
    with pytest.raises(ValueError, match="unknown environment 'nope-v0'"):
        LookaheadPlanner("nope-v0")
    planner = LookaheadPlanner("highway-fast-v0")
    with pytest.raises(ValueError, match="plans on the simulator"):
        planner.act(np.zeros(25, np.float32))
    with pytest.raises(ValueError, match="plan needs the live gymnasium env"):
        planner.plan(np.zeros(25, np.float32))

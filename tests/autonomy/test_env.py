"""highway-env construction: flat float32 Kinematics observations, seeding, vector envs, errors."""

from __future__ import annotations

import numpy as np
import pytest

from autonomy.env import (
    DRIVING_RANGES,
    HIGHWAY_ENVS,
    action_names,
    discrete_actions,
    grayscale_stack,
    make_env,
    make_vector_env,
    space_shape,
)


def test_highway_fast_gives_flat_normalised_observations_and_meta_actions():
    env = make_env("highway-fast-v0", seed=3)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (25,) and obs.dtype == np.float32
    assert np.all(np.abs(obs) <= 5.0)
    assert action_names(env) == ["LANE_LEFT", "IDLE", "LANE_RIGHT", "FASTER", "SLOWER"]
    again, _ = make_env("highway-fast-v0").reset(seed=3)
    np.testing.assert_array_equal(obs, again)  # same seed, same scene
    env.close()


def test_kinematics_are_scaled_to_driving_distances_and_speed_differences():
    env = make_env("highway-fast-v0")
    obs, _ = env.reset(seed=5)
    rows = obs.reshape(5, 5)  # presence, x, y, vx, vy; row 0 is the ego vehicle
    ego, others = (
        env.unwrapped.vehicle,
        env.unwrapped.road.close_vehicles_to(
            env.unwrapped.vehicle, env.unwrapped.PERCEPTION_DISTANCE, count=4, sort=True
        ),
    )
    gaps = np.array([v.position[0] - ego.position[0] for v in others])
    np.testing.assert_allclose(rows[1 : 1 + len(others), 1], np.clip(gaps / 25.0, -5, 5), rtol=1e-5)
    np.testing.assert_allclose(
        rows[0, 3], ego.velocity[0] / 8.0, rtol=1e-5
    )  # 20-30 m/s -> 2.5-3.75
    assert rows[1:, 1].std() > 0.2  # highway-env's own +-200 m scale would give about 0.03
    custom = make_env(
        "highway-fast-v0", observation={"features_range": {"x": [-100, 100], "vx": [-20, 20]}}
    )
    assert custom.unwrapped.observation_type.features_range == {"x": [-100, 100], "vx": [-20, 20]}
    roundabout = make_env("roundabout-v0")
    assert roundabout.unwrapped.observation_type.features_range["x"] == [
        -100,
        100,
    ]  # the scene's own
    assert DRIVING_RANGES["x"] == [-25.0, 25.0]
    for e in (env, custom, roundabout):
        e.close()


@pytest.mark.parametrize(
    "ranges, message",
    [
        ("wide", "dict of \\[low, high\\] pairs"),
        ({"x": "wide"}, "features_range\\['x'\\] must be \\[low, high\\] numbers"),
        ({"x": [5, -5]}, "needs low < high"),
    ],
)
def test_malformed_features_range_is_a_clear_error(ranges, message):
    with pytest.raises(ValueError, match=message):
        make_env("highway-fast-v0", observation={"features_range": ranges})


def test_config_overrides_reach_highway_env():
    env = make_env("highway-fast-v0", observation={"vehicles_count": 3}, lanes_count=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (15,)
    assert env.unwrapped.config["lanes_count"] == 2


def test_intersection_uses_its_own_kinematics_layout():
    obs, _ = make_env("intersection-v0").reset(seed=0)
    assert obs.shape == (15 * 7,)


def test_unknown_env_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown environment 'racetrack-v0'.*highway-fast-v0"):
        make_env("racetrack-v0")
    assert "merge-v0" in HIGHWAY_ENVS and "roundabout-v0" in HIGHWAY_ENVS


def test_async_vector_env_steps_two_workers_and_autoresets():
    envs = make_vector_env("highway-fast-v0", num_envs=2, asynchronous=True)
    try:
        obs, _ = envs.reset(seed=[0, 1])
        assert obs.shape == (2, 25)
        assert not np.array_equal(obs[0], obs[1])
        finished = False
        for _ in range(40):  # IDLE crashes or the 30 s episode ends well before 40 steps
            obs, rewards, terminated, truncated, infos = envs.step(np.array([1, 1]))
            assert obs.shape == (2, 25) and rewards.shape == (2,)
            if np.any(terminated | truncated):
                index = int(np.flatnonzero(terminated | truncated)[0])
                assert infos["final_obs"][index].shape == (25,)
                finished = True
                break
        assert finished
    finally:
        envs.close()


def test_grayscale_stacks_are_drawn_images_for_a_cnn():
    config = grayscale_stack(64, 32)
    env = make_env("highway-fast-v0", **config)
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(1)
    assert obs.shape == (32, 64, 2) and obs.dtype == np.float32
    assert 0.0 <= obs.min() and obs.max() <= 1.0 and obs.std() > 0.01  # not a blank frame
    with pytest.raises(ValueError, match="observation type 'OccupancyGrid'"):
        make_env("highway-fast-v0", observation={"type": "OccupancyGrid"})


def test_space_shape_and_discrete_actions_name_what_does_not_fit():
    import gymnasium as gym

    assert space_shape(gym.spaces.Box(0.0, 1.0, (3, 2))) == (3, 2)
    with pytest.raises(ValueError, match="no fixed shape"):
        space_shape(gym.spaces.Text(5))
    assert discrete_actions(make_env("CartPole-v1")) == 2
    pendulum = gym.make("Pendulum-v1")  # continuous actions: not for DQN
    with pytest.raises(ValueError, match="discrete action space"):
        discrete_actions(pendulum)
    pendulum.close()

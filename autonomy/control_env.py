"""Continuous-control environments for ``SACAgent``: a robot arm, parking, and registered ones.

``make_control_env`` builds one seeded env with a ``Box`` action space and either flat float32
observations or, for goal-conditioned envs (highway-env ``parking-v0``), a dict of float32
``observation`` / ``achieved_goal`` / ``desired_goal`` vectors (what hindsight relabelling
needs). Built in: ``parking-v0`` (park a car in a bay; HER), MuJoCo's ``Reacher-v5`` (a two-joint
robot arm reaching a target) and ``InvertedPendulum-v5`` (a cart balancing a pole), and
gymnasium's ``Pendulum-v1``, which needs no extra package. MuJoCo was chosen over a drone
simulator because ``mujoco`` installs as a wheel and steps at ~18k steps/s on one core, while
PyBullet-based drone envs (PyFlyt, gym-pybullet-drones) build PyBullet from source. Tests add
tiny envs with ``autonomy.env.register_env`` (the registry ``make_env`` uses too).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from autonomy import env as env_lib

GOAL_ENVS = ("parking-v0",)
MUJOCO_ENVS = ("Reacher-v5", "InvertedPendulum-v5", "HalfCheetah-v5", "Hopper-v5")
CONTROL_ENVS = (*GOAL_ENVS, *MUJOCO_ENVS, "Pendulum-v1")
DEFAULT_CONTROL_ENV = "parking-v0"
GOAL_KEYS = ("observation", "achieved_goal", "desired_goal")


def known_control_envs() -> list[str]:
    """Names ``make_control_env`` accepts: the built-in ones and those registered by tests/users."""
    return [*CONTROL_ENVS, *sorted(env_lib._EXTRA_ENVS)]


def check_control_env_name(name: str) -> str:
    """Return ``name`` if ``make_control_env`` knows it, else a ``ValueError`` listing them."""
    if name not in known_control_envs():
        raise ValueError(
            f"unknown environment {name!r}; known continuous-control environments: "
            f"{', '.join(known_control_envs())}"
        )
    return name


def is_goal_space(space: gym.Space) -> bool:
    """A goal-conditioned observation space: a ``Dict`` with the three GoalEnv keys."""
    return isinstance(space, gym.spaces.Dict) and all(key in space.spaces for key in GOAL_KEYS)


class FiniteObservation(gym.ObservationWrapper):
    """float32 observations (flat or the goal dict); a NaN or infinite value raises."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        if is_goal_space(space):
            assert isinstance(space, gym.spaces.Dict)
            self.observation_space = gym.spaces.Dict(
                {key: _float_box(space.spaces[key]) for key in GOAL_KEYS}
            )
        else:
            self.observation_space = _float_box(space)

    def observation(self, observation):
        if isinstance(observation, Mapping):
            out = {key: np.asarray(observation[key], np.float32).reshape(-1) for key in GOAL_KEYS}
            values = np.concatenate(list(out.values()))
        else:
            out = values = np.asarray(observation, np.float32).reshape(-1)
        if not np.all(np.isfinite(values)):
            raise ValueError("the environment returned a NaN or infinite observation")
        return out


def _float_box(space: gym.Space) -> gym.spaces.Box:
    if not isinstance(space, gym.spaces.Box) or space.shape is None:
        raise ValueError(f"continuous-control observations must be Box spaces, got {space}")
    size = int(np.prod(space.shape))
    return gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)


def make_control_env(
    name: str = DEFAULT_CONTROL_ENV,
    seed: int | None = None,
    render_mode: str | None = None,
    **config: Any,
) -> gym.Env:
    """One continuous-action env; ``config`` overrides highway-env's config or goes to
    ``gymnasium.make`` (MuJoCo / classic control) or the registered factory."""
    check_control_env_name(name)
    if name in GOAL_ENVS:
        import highway_env  # noqa: F401  (registers parking-v0 with gymnasium)

        if render_mode == "rgb_array":
            env_lib._use_offscreen_sdl()
            config = {"offscreen_rendering": True, **config}
        env = gym.make(name, render_mode=render_mode, config=dict(config))
    elif name in env_lib._EXTRA_ENVS:
        env = env_lib._EXTRA_ENVS[name](render_mode=render_mode, **config)
    else:
        if name in MUJOCO_ENVS and render_mode == "rgb_array":
            os.environ.setdefault("MUJOCO_GL", "egl")  # headless OpenGL
        env = gym.make(name, render_mode=render_mode, **config)
    if not isinstance(env.action_space, gym.spaces.Box):
        raise ValueError(
            f"{name} has a {type(env.action_space).__name__} action space; SAC needs a "
            f"continuous (Box) one (use DQNAgent for discrete actions)"
        )
    return env_lib.seeded(FiniteObservation(env), seed)


def make_control_vector_env(
    name: str = DEFAULT_CONTROL_ENV, num_envs: int = 1, **config: Any
) -> gym.vector.VectorEnv:
    """``num_envs`` copies, in worker processes when more than one (registered envs stay in
    process); episodes reset in the step they end, the last observation in ``final_obs``."""
    check_control_env_name(name)
    return env_lib.vector_env(make_control_env, name, num_envs, True, config)


def action_bounds(env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
    """The finite ``(low, high)`` of a Box action space (SAC squashes actions into it)."""
    space = env.action_space
    assert isinstance(space, gym.spaces.Box)
    low, high = np.asarray(space.low, np.float32), np.asarray(space.high, np.float32)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError(f"SAC needs a bounded action space, got {space}")
    return low.reshape(-1), high.reshape(-1)

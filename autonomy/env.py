"""Driving environments: highway-env scenes with Kinematics observations and meta-actions.

``make_env`` builds one seeded environment whose observations are flat float32 vectors
(Kinematics features scaled to driving distances and speed differences, see ``DRIVING_RANGES``;
flattened, clipped to [-5, 5], NaNs rejected), or, with
``observation={"type": "GrayscaleObservation"}``, ``(H, W, stack)`` images in [0, 1] for a CNN
Q-network. ``make_vector_env`` runs several of them in worker processes with
``gymnasium.vector.AsyncVectorEnv`` so every core collects experience. Other small gymnasium
environments can be added with ``register_env`` (tests use a tiny deterministic one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

HIGHWAY_ENVS = ("highway-fast-v0", "highway-v0", "merge-v0", "roundabout-v0", "intersection-v0")
DEFAULT_ENV = "highway-fast-v0"

_EXTRA_ENVS: dict[str, Callable[..., gym.Env]] = {}


def register_env(name: str, factory: Callable[..., gym.Env]) -> None:
    """Make ``name`` known to ``make_env``: ``factory(render_mode=..., **config)`` builds it."""
    if name in HIGHWAY_ENVS:
        raise ValueError(f"{name!r} is a built-in highway-env scene and cannot be re-registered")
    _EXTRA_ENVS[name] = factory


def known_envs() -> list[str]:
    """Names ``make_env`` accepts: the highway-env scenes, CartPole-v1 and registered ones."""
    return [*HIGHWAY_ENVS, "CartPole-v1", *sorted(_EXTRA_ENVS)]


def check_env_name(name: str) -> str:
    """Return ``name`` if ``make_env`` knows it, else a ``ValueError`` listing the known ones."""
    if name not in known_envs():
        raise ValueError(
            f"unknown environment {name!r}; known environments: {', '.join(known_envs())}"
        )
    return name


def space_shape(space: gym.Space) -> tuple[int, ...]:
    """The shape of an observation space; a ``ValueError`` for a space without one."""
    if space.shape is None:
        raise ValueError(f"observation space {space} has no fixed shape")
    return tuple(int(d) for d in space.shape)


def discrete_actions(env: gym.Env) -> int:
    """How many discrete actions ``env`` has; a ``ValueError`` for other action spaces."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Discrete):
        raise ValueError(f"agents here need a discrete action space, the env has {space}")
    return int(space.n)


class ImageStackObservation(gym.ObservationWrapper):
    """highway-env grayscale stacks ``(stack, W, H)`` uint8 -> ``(H, W, stack)`` in [0, 1]."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        stack, width, height = space_shape(env.observation_space)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (height, width, stack), np.float32)

    def observation(self, observation):
        image = np.transpose(np.asarray(observation, np.float32), (2, 1, 0)) / 255.0
        if not np.all(np.isfinite(image)):
            raise ValueError("the environment returned a NaN or infinite observation")
        return image


class FlatObservation(gym.ObservationWrapper):
    """Flatten observations to float32 vectors, clipped to ``[-clip, clip]``; NaNs raise."""

    def __init__(self, env: gym.Env, clip: float = 5.0):
        super().__init__(env)
        self.clip = float(clip)
        size = int(np.prod(space_shape(env.observation_space)))
        self.observation_space = gym.spaces.Box(-self.clip, self.clip, (size,), np.float32)

    def observation(self, observation):
        flat = np.asarray(observation, np.float32).reshape(-1)
        if not np.all(np.isfinite(flat)):
            raise ValueError("the environment returned a NaN or infinite observation")
        return np.clip(flat, -self.clip, self.clip)


IMAGE_OBSERVATION = "GrayscaleObservation"


def grayscale_stack(width: int, height: int, stack_size: int = 2) -> dict[str, Any]:
    """The env config for stacked grayscale frames instead of Kinematics vectors:
    ``make_env(name, **grayscale_stack(64, 32))`` observes ``(32, 64, 2)`` images in [0, 1]
    (highway-env's ``observation_shape`` is (width, height); the observation is (H, W, stack))."""
    return {
        "observation": {
            "type": IMAGE_OBSERVATION,
            "observation_shape": [int(width), int(height)],
            "stack_size": int(stack_size),
        }
    }


# highway-env's default Kinematics scaling maps x to +-200 m and vx, vy to +-80 m/s, so the gaps and
# speed differences a driver reacts to (a few metres, a few m/s) reach the network as values with a
# spread of about 0.05. dlsuite maps them to +-25 m, +-8 m/s and +-2 m/s instead (unclipped there;
# FlatObservation clips at +-5), a spread of about 0.5. On highway-fast-v0 (DQN, 20k steps, 3 seeds)
# this took the greedy crash rate from 0.37 to 0.13 and the return from 20.4 to 21.7 (bench/results/
# autonomy_dqn.json). Scenes that set their own ranges (roundabout, intersection) and configs that
# pass ``features_range`` keep theirs.
DRIVING_RANGES = {"x": [-25.0, 25.0], "y": [-12.0, 12.0], "vx": [-8.0, 8.0], "vy": [-2.0, 2.0]}


def _check_features_range(ranges: Any) -> None:
    """``features_range`` must map feature names to ``[low, high]`` numbers with low < high."""
    if not isinstance(ranges, Mapping):
        raise ValueError(
            f"observation features_range must be a dict of [low, high] pairs, got {ranges!r}"
        )
    for feature, bounds in ranges.items():
        try:
            low, high = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise ValueError(
                f"features_range[{feature!r}] must be [low, high] numbers, got {bounds!r}"
            ) from None
        if not low < high:
            raise ValueError(f"features_range[{feature!r}] needs low < high, got {bounds!r}")


def _highway_config(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Kinematics observations (normalised, ego-relative) unless a grayscale stack is asked for;
    discrete meta-actions."""
    import highway_env  # noqa: F401  (registers the highway-env scenes with gymnasium)

    probe = gym.make(name)
    defaults: dict[str, Any] = probe.unwrapped.config  # type: ignore[attr-defined]
    probe.close()
    requested = dict(config.get("observation", {}))
    if "features_range" in requested:
        _check_features_range(requested["features_range"])
    if requested.get("type", "Kinematics") == IMAGE_OBSERVATION:
        observation: dict[str, Any] = {
            "observation_shape": (128, 64),
            "stack_size": 4,
            "weights": [0.2989, 0.5870, 0.1140],
            "scaling": 1.75,
        }
    else:
        observation = dict(defaults["observation"])
        observation.update(type="Kinematics", normalize=True)
        if "features_range" not in observation and "features_range" not in requested:
            observation.update(
                features_range={k: list(v) for k, v in DRIVING_RANGES.items()}, clip=False
            )
    observation.update(requested)
    if "observation_shape" in observation:  # JSON configs hold lists; highway-env needs a tuple
        observation["observation_shape"] = tuple(int(v) for v in observation["observation_shape"])
    action = dict(defaults["action"])
    action.update(type="DiscreteMetaAction")
    action.update(config.get("action", {}))
    merged = {k: v for k, v in config.items() if k not in ("observation", "action")}
    merged.update(observation=observation, action=action)
    if observation["type"] not in ("Kinematics", IMAGE_OBSERVATION):
        raise ValueError(
            f"observation type {observation['type']!r} is not supported; use Kinematics or "
            f"{IMAGE_OBSERVATION}"
        )
    if action["type"] != "DiscreteMetaAction":
        raise ValueError("autonomy agents use DiscreteMetaAction actions (DQN needs discrete ones)")
    return merged


def _use_offscreen_sdl() -> None:
    """Headless rendering: SDL's "offscreen" driver needs no display. Not "dummy": highway-env
    skips all drawing under SDL_VIDEODRIVER=dummy and would return black frames."""
    if os.environ.get("SDL_VIDEODRIVER", "dummy") == "dummy":
        os.environ["SDL_VIDEODRIVER"] = "offscreen"


def make_env(
    name: str = DEFAULT_ENV,
    seed: int | None = None,
    render_mode: str | None = None,
    **config: Any,
) -> gym.Env:
    """One environment with flat float32 observations; ``config`` overrides highway-env's config."""
    check_env_name(name)
    images = False
    if name in HIGHWAY_ENVS:
        merged = _highway_config(name, config)
        images = merged["observation"]["type"] == IMAGE_OBSERVATION
        if render_mode == "rgb_array" or images:
            _use_offscreen_sdl()
            merged.setdefault("offscreen_rendering", True)
        env = gym.make(name, render_mode=render_mode, config=merged)
    elif name in _EXTRA_ENVS:
        env = _EXTRA_ENVS[name](render_mode=render_mode, **config)
    else:
        env = gym.make(name, render_mode=render_mode, **config)
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(
            f"{name} has a {type(env.action_space).__name__} action space; DQN needs Discrete"
        )
    if render_mode == "rgb_array":
        _use_offscreen_sdl()
    return seeded(ImageStackObservation(env) if images else FlatObservation(env), seed)


class EnvFactory:
    """Picklable constructor for vector-env workers (lambdas do not survive ``spawn``):
    ``make(name, **config)`` with a module-level ``make`` (``make_env``, ``make_control_env``)."""

    def __init__(self, make: Callable[..., gym.Env], name: str, config: Mapping[str, Any]):
        self.make, self.name, self.config = make, name, dict(config)

    def __call__(self) -> gym.Env:
        return self.make(self.name, **self.config)


def vector_env(
    make: Callable[..., gym.Env],
    name: str,
    num_envs: int,
    asynchronous: bool,
    config: Mapping[str, Any],
) -> gym.vector.VectorEnv:
    """``num_envs`` envs built by ``make(name, **config)``, stepped in worker processes when
    ``asynchronous`` and more than one (registered envs stay in process).

    Episodes reset in the same step they end (``AutoresetMode.SAME_STEP``); the true last
    observation is in ``info["final_obs"]``.
    """
    if int(num_envs) < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs!r}")
    fns = [EnvFactory(make, name, config) for _ in range(int(num_envs))]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if asynchronous and num_envs > 1 and name not in _EXTRA_ENVS:
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode, context="spawn")
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def make_vector_env(
    name: str = DEFAULT_ENV, num_envs: int = 2, asynchronous: bool = True, **config: Any
) -> gym.vector.VectorEnv:
    """``num_envs`` copies, stepped in worker processes when ``asynchronous`` (one per core).

    Episodes reset in the same step they end (``AutoresetMode.SAME_STEP``); the true last
    observation is in ``info["final_obs"]``.
    """
    check_env_name(name)
    return vector_env(make_env, name, num_envs, asynchronous, config)


def seeded(env: gym.Env, seed: int | None) -> gym.Env:
    """``env``, reset with ``seed`` and its action space seeded alike (as it is for None)."""
    if seed is not None:
        env.reset(seed=int(seed))
        env.action_space.seed(int(seed))
    return env


def action_names(env: gym.Env) -> list[str]:
    """Human names of the discrete actions (highway meta-actions), or their indices."""
    action_type = getattr(env.unwrapped, "action_type", None)
    names = getattr(action_type, "actions", None)
    if isinstance(names, Mapping):
        return [str(names[i]) for i in sorted(names)]
    return [str(i) for i in range(discrete_actions(env))]

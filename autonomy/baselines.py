"""Reference policies in the agent API (``act`` / ``evaluate`` / ``record``): random, IDLE and a
lookahead planner.

Random and IDLE anchor the evaluation table from below: a learned driver must beat both random
lane changes and never touching the controls (IDLE keeps the lane and the current target speed).
The planner anchors it from above: it cheats by searching copies of the live simulator, so it
shows what good driving scores in a scene, which a model-free agent can approach but not use.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from autonomy.env import DEFAULT_ENV, action_names, check_env_name, discrete_actions, make_env
from autonomy.evaluation import PolicyRollouts


class _Baseline(PolicyRollouts):
    """Shared plumbing: env name/config, the action count and the evaluation helpers."""

    def __init__(self, env_name: str = DEFAULT_ENV, seed: int = 0, **env_config: Any):
        self.env_name = check_env_name(env_name)
        self.env_config = env_config
        env = make_env(env_name, **env_config)
        self.num_actions = discrete_actions(env)
        self.action_names = action_names(env)
        # highway meta-action IDLE (keep lane and speed); None in envs without one
        self.idle_action = self.action_names.index("IDLE") if "IDLE" in self.action_names else None
        env.close()
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any) -> int:
        raise NotImplementedError

    def rollout_env(self) -> tuple[str, Mapping[str, Any]]:
        return self.env_name, self.env_config


class RandomAgent(_Baseline):
    """Uniformly random meta-actions."""

    def act(self, observation: Any) -> int:
        return int(self.rng.integers(self.num_actions))


class IdleAgent(_Baseline):
    """Always the IDLE meta-action (keep lane and speed); action 0 for envs without one."""

    def __init__(self, env_name: str = DEFAULT_ENV, seed: int = 0, **env_config: Any):
        super().__init__(env_name, seed, **env_config)
        self.action = 0 if self.idle_action is None else self.idle_action

    def act(self, observation: Any) -> int:
        return self.action


class LookaheadPlanner(_Baseline):
    """Tries each action on a copy of the live simulator, follows it with IDLE (or, in envs
    without IDLE, the same action again) for the rest of ``depth`` steps, and takes the action
    whose rollout earns most; ties keep IDLE.

    A rollout that ends in a crash (``info["crashed"]``) scores its rewards minus
    ``crash_penalty``, so any crash-free rollout wins over one that crashes. It needs the
    simulator, not just the observation: use ``evaluate`` / ``record`` (which hand it the env)
    or ``plan(env)``.
    """

    def __init__(
        self,
        env_name: str = DEFAULT_ENV,
        seed: int = 0,
        depth: int = 4,
        crash_penalty: float = 100.0,
        **env_config: Any,
    ):
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
            raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
        if (
            isinstance(crash_penalty, bool)
            or not isinstance(crash_penalty, (int, float, np.number))
            or not np.isfinite(crash_penalty)
            or crash_penalty < 0
        ):
            raise ValueError(f"crash_penalty must be a finite number >= 0, got {crash_penalty!r}")
        super().__init__(env_name, seed, **env_config)
        self.depth = int(depth)
        self.crash_penalty = float(crash_penalty)
        # on equal scores keep IDLE (no needless lane or speed changes)
        first = [] if self.idle_action is None else [self.idle_action]
        self.candidates = first + [a for a in range(self.num_actions) if a != self.idle_action]

    def act(self, observation: Any) -> int:
        raise ValueError(
            "LookaheadPlanner plans on the simulator, not on an observation: call plan(env), "
            "or evaluate() / record(), which give it the env"
        )

    @property
    def policy(self) -> Any:
        return self

    def bind_env(self, env: Any) -> Any:
        """The observation -> action map that ``evaluate_policy`` runs: plans on ``env``."""
        return lambda observation: self.plan(env)

    def rollout_score(self, env: Any, action: int) -> float:
        """Reward of ``action`` then its continuation, on a copy of ``env`` (left as is)."""
        simulator = copy.deepcopy(env.unwrapped)
        total, step_action = 0.0, int(action)
        for _ in range(self.depth):
            _, reward, terminated, truncated, info = simulator.step(step_action)
            total += float(reward)
            if terminated:
                return total - (self.crash_penalty if info.get("crashed", False) else 0.0)
            if truncated:
                break
            if self.idle_action is not None:
                step_action = self.idle_action
        return total

    def plan(self, env: Any) -> int:
        """The best first action from the env's current state (the env itself is not stepped)."""
        if not isinstance(getattr(env, "unwrapped", None), gym.Env):
            raise ValueError(
                f"plan needs the live gymnasium env (from make_env), got {type(env).__name__}"
            )
        scores = [self.rollout_score(env, action) for action in self.candidates]
        return int(self.candidates[int(np.argmax(scores))])

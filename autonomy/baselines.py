"""Reference policies in the agent API (``act`` / ``evaluate`` / ``record``): random and IDLE.

They anchor the evaluation table: a learned driver must beat both random lane changes and
never touching the controls (IDLE keeps the lane and the current target speed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from autonomy.env import DEFAULT_ENV, action_names, check_env_name, make_env
from autonomy.evaluation import evaluate_policy, record_episode


class _Baseline:
    """Shared plumbing: env name/config, the action count and the evaluation helpers."""

    def __init__(self, env_name: str = DEFAULT_ENV, seed: int = 0, **env_config: Any):
        self.env_name = check_env_name(env_name)
        self.env_config = env_config
        env = make_env(env_name, **env_config)
        self.num_actions = int(env.action_space.n)
        self.action_names = action_names(env)
        env.close()
        self.rng = np.random.default_rng(seed)

    def act(self, observation: Any) -> int:
        raise NotImplementedError

    def evaluate(self, episodes: int = 10, seed: int = 10_000) -> dict[str, float]:
        """Same rollouts and metrics as ``DQNAgent.evaluate``."""
        return evaluate_policy(self.act, self.env_name, self.env_config, episodes, seed)

    def record(self, path: str | os.PathLike, seed: int = 0, max_steps: int = 200) -> dict[str, Any]:
        return record_episode(self.act, Path(path), self.env_name, self.env_config, seed, max_steps)


class RandomAgent(_Baseline):
    """Uniformly random meta-actions."""

    def act(self, observation: Any) -> int:
        return int(self.rng.integers(self.num_actions))


class IdleAgent(_Baseline):
    """Always the IDLE meta-action (keep lane and speed); action 0 for envs without one."""

    def __init__(self, env_name: str = DEFAULT_ENV, seed: int = 0, **env_config: Any):
        super().__init__(env_name, seed, **env_config)
        self.action = self.action_names.index("IDLE") if "IDLE" in self.action_names else 0

    def act(self, observation: Any) -> int:
        return self.action

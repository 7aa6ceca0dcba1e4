"""``SACConfig``: every ``SACAgent`` option, validated, as plain JSON-ready keyword arguments."""

from __future__ import annotations

import dataclasses
from typing import Any

from autonomy.config import check_hidden_units
from autonomy.control_env import DEFAULT_CONTROL_ENV, check_control_env_name
from common.config_checks import check_at_least, check_interval
from common.task import TaskConfig


@dataclasses.dataclass
class SACConfig(TaskConfig):
    """Every SACAgent option; defaults are SB3's SAC defaults (and its HER settings)."""

    env_name: str = DEFAULT_CONTROL_ENV
    env_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    num_envs: int = 1  # > 1: AsyncVectorEnv worker processes, stepping while the agent trains
    hidden_units: list[int] = dataclasses.field(default_factory=lambda: [256, 256])
    buffer_size: int = 1_000_000
    batch_size: int = 256
    learning_rate: float = 3e-4  # actor, critics and temperature alike
    gamma: float = 0.99
    tau: float = 0.005  # Polyak factor of the target critics, every gradient step
    learning_starts: int = 100
    train_freq: int = 1  # vector steps between updates
    gradient_steps: int = 1
    initial_alpha: float = 1.0  # entropy temperature at the start
    auto_alpha: bool = True  # tune alpha towards target_entropy (else it stays fixed)
    target_entropy: float | None = None  # None: -action_dim
    her: bool | None = None  # hindsight relabelling; None: on for goal-conditioned envs
    her_goals: int = 4  # relabelled copies per transition (SB3's n_sampled_goal)
    seed: int = 0

    def validate(self) -> None:
        check_control_env_name(self.env_name)
        counts = ("num_envs", "buffer_size", "batch_size", "train_freq", "gradient_steps")
        check_at_least(self, 1, *counts, "her_goals")
        for name in ("gamma", "tau"):
            check_interval(name, float(getattr(self, name)), 0.0, 1.0, "(]")
        if self.learning_rate <= 0 or self.initial_alpha <= 0:
            raise ValueError("learning_rate and initial_alpha must be > 0")
        check_hidden_units(self.hidden_units)
        if self.learning_starts < 0:
            raise ValueError("learning_starts must be >= 0")

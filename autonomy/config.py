"""``DQNConfig``: every ``DQNAgent`` option, validated, as plain JSON-ready keyword arguments."""

from __future__ import annotations

import dataclasses
from typing import Any

from autonomy.env import DEFAULT_ENV, check_env_name
from common.config_checks import check_at_least, check_interval
from common.task import TaskConfig


def check_hidden_units(hidden_units: list[int]) -> None:
    """The widths of an agent's hidden layers: at least one, each positive."""
    if not hidden_units or min(hidden_units) < 1:
        raise ValueError(f"hidden_units must be positive widths, got {hidden_units!r}")


@dataclasses.dataclass
class DQNConfig(TaskConfig):
    """Every DQNAgent option; defaults: highway-env's SB3 DQN recipe plus the DQN extensions."""

    env_name: str = DEFAULT_ENV
    env_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    num_envs: int = 1  # > 1: AsyncVectorEnv worker processes
    hidden_units: list[int] = dataclasses.field(default_factory=lambda: [256, 256])
    encoder: str = "mlp"  # "ego_attention": vehicles as a set, attended from the ego vehicle
    dueling: bool = True
    double: bool = True
    n_step: int = 3
    prioritized: bool = False
    alpha: float = 0.6  # prioritisation exponent
    beta_start: float = 0.4  # importance-sampling exponent, annealed to 1 over exploration...
    beta_steps: int = 20_000  # ...this many env steps
    buffer_size: int = 15_000
    batch_size: int = 32
    learning_rate: float = 5e-4
    gamma: float = 0.8
    learning_starts: int = 200
    train_freq: int = 1  # vector steps between updates
    gradient_steps: int = 1
    target_update_interval: int = 50  # env steps between target updates
    tau: float = 1.0  # 1.0 = hard copy, < 1 = Polyak averaging
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    exploration_steps: int = 2_000
    max_grad_norm: float = 10.0
    seed: int = 0

    def validate(self) -> None:
        check_env_name(self.env_name)
        check_at_least(
            self,
            1,
            "num_envs",
            "n_step",
            "buffer_size",
            "batch_size",
            "train_freq",
            "gradient_steps",
            "target_update_interval",
        )
        for name in ("gamma", "tau", "epsilon_start", "epsilon_end", "beta_start"):
            check_interval(name, float(getattr(self, name)), 0.0, 1.0, "[]")
        if self.tau == 0.0:
            raise ValueError("tau must be > 0 (0 would freeze the target network)")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ValueError("learning_rate and max_grad_norm must be > 0")
        if self.encoder not in ("mlp", "ego_attention"):
            raise ValueError(f"encoder must be 'mlp' or 'ego_attention', got {self.encoder!r}")
        check_hidden_units(self.hidden_units)
        if self.learning_starts < 0 or self.exploration_steps < 0:
            raise ValueError("learning_starts and exploration_steps must be >= 0")

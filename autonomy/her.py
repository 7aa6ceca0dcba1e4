"""Hindsight experience replay (Andrychowicz et al., 2017) with the "future" strategy.

When an episode ends, each of its transitions is stored ``k`` more times with the desired goal
replaced by a goal the agent actually reached later in the same episode (the achieved goal after
step ``j``, ``j`` drawn uniformly from ``t .. T-1``, as SB3's ``HerReplayBuffer`` samples it). The
original transitions go into replay as they happen; the relabelled copies follow at episode end,
so ``k`` / (``k`` + 1) of the buffer is relabelled, SB3's ratio for ``n_sampled_goal = k``.

The reward is recomputed for the new goal by swapping only its goal part:
``r' = r - R(ag', g) + R(ag', g')`` with ``R = env.compute_reward`` and ``ag'`` the achieved goal
after the step, so terms that do not depend on the goal (parking's collision penalty) are kept.
The termination flag is kept as recorded, as in SB3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

RewardFn = Callable[[np.ndarray, np.ndarray, dict], np.ndarray]


@dataclass
class Episode:
    """One env's transitions since its last reset (goal dict parts kept separately)."""

    observation: list[np.ndarray] = field(default_factory=list)
    next_observation: list[np.ndarray] = field(default_factory=list)
    next_achieved: list[np.ndarray] = field(default_factory=list)
    desired: list[np.ndarray] = field(default_factory=list)
    action: list[np.ndarray] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    discount: list[float] = field(default_factory=list)

    def add(self, obs, action, reward, next_obs, discount) -> None:
        """Append one step: ``obs`` / ``next_obs`` are goal dicts of this env."""
        self.observation.append(np.asarray(obs["observation"], np.float32))
        self.next_observation.append(np.asarray(next_obs["observation"], np.float32))
        self.next_achieved.append(np.asarray(next_obs["achieved_goal"], np.float32))
        self.desired.append(np.asarray(obs["desired_goal"], np.float32))
        self.action.append(np.asarray(action, np.float32))
        self.reward.append(float(reward))
        self.discount.append(float(discount))

    def __len__(self) -> int:
        return len(self.reward)


def future_goal_indices(length: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``[length, k]`` indices ``j`` with ``t <= j < length`` for each step ``t`` (uniform)."""
    starts = np.arange(length)[:, None]
    spans = length - starts  # how many future indices step t can draw from (>= 1)
    return starts + np.floor(rng.random((length, int(k))) * spans).astype(np.int64)


def relabel(
    episode: Episode, k: int, compute_reward: RewardFn, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``k`` relabelled copies of every step of ``episode`` as flat arrays: ``obs`` and
    ``next_obs`` are ``observation ++ goal``, plus ``action``, ``reward`` and ``discount``."""
    length = len(episode)
    if length == 0 or int(k) < 1:
        raise ValueError(f"relabel needs a non-empty episode and k >= 1 (k={k!r})")
    futures = future_goal_indices(length, k, rng).reshape(-1)  # row t: k goals for step t
    steps = np.repeat(np.arange(length), int(k))
    achieved = np.stack(episode.next_achieved)
    new_goals = achieved[futures]
    step_achieved = achieved[steps]
    old_goals = np.stack(episode.desired)[steps]
    reward = np.asarray(episode.reward, np.float32)[steps]
    reward = reward - compute_reward(step_achieved, old_goals, {})
    reward = reward + compute_reward(step_achieved, new_goals, {})
    observation = np.stack(episode.observation)[steps]
    next_observation = np.stack(episode.next_observation)[steps]
    return {
        "obs": np.concatenate([observation, new_goals], axis=-1),
        "action": np.stack(episode.action)[steps],
        "reward": np.asarray(reward, np.float32),
        "next_obs": np.concatenate([next_observation, new_goals], axis=-1),
        "discount": np.asarray(episode.discount, np.float32)[steps],
    }

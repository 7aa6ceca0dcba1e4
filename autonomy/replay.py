"""Experience replay: NumPy ring storage, proportional prioritised sampling and n-step returns.

Transitions are stored already aggregated over n steps: ``(obs, action, return, next_obs,
discount)`` where ``discount`` is ``gamma**k`` when the episode goes on after ``k`` rewards and 0
when it terminated, so the TD target is simply ``return + discount * Q(next_obs)``.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

import numpy as np

FIELDS = ("obs", "action", "reward", "next_obs", "discount")


def n_step_return(rewards: Sequence[float], gamma: float) -> float:
    """Discounted sum ``r_0 + gamma r_1 + ... + gamma^(k-1) r_(k-1)`` of a reward window."""
    total = 0.0
    for reward in reversed(list(rewards)):
        total = float(reward) + gamma * total
    return total


class ReplayBuffer:
    """Uniform replay over a fixed-capacity ring: the oldest transition is overwritten first."""

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        seed: int | None = None,
        action_shape: Sequence[int] = (),
        action_dtype: Any = np.int64,
    ):
        """``action_shape`` / ``action_dtype``: ``()`` int64 for discrete actions (DQN),
        ``(A,)`` float32 for continuous ones (SAC)."""
        if int(capacity) < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity!r}")
        self.capacity = int(capacity)
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.obs = np.zeros((self.capacity, *self.obs_shape), np.float32)
        self.next_obs = np.zeros((self.capacity, *self.obs_shape), np.float32)
        self.action_shape = tuple(int(d) for d in action_shape)
        self.action = np.zeros((self.capacity, *self.action_shape), action_dtype)
        self.reward = np.zeros(self.capacity, np.float32)
        self.discount = np.zeros(self.capacity, np.float32)
        self.position = 0  # next slot to write
        self.size = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, discount) -> np.ndarray:
        """Append a batch of transitions (leading axis = batch); returns the slots written."""
        obs = np.asarray(obs, np.float32).reshape(-1, *self.obs_shape)
        count = len(obs)
        slots = (self.position + np.arange(count)) % self.capacity
        self.obs[slots] = obs
        self.next_obs[slots] = np.asarray(next_obs, np.float32).reshape(-1, *self.obs_shape)
        self.action[slots] = np.asarray(action).reshape(-1, *self.action_shape)
        self.reward[slots] = np.asarray(reward).reshape(-1)
        self.discount[slots] = np.asarray(discount).reshape(-1)
        self.position = int((self.position + count) % self.capacity)
        self.size = int(min(self.size + count, self.capacity))
        return slots

    def _gather(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        batch = {name: getattr(self, name)[indices] for name in FIELDS}
        batch["indices"] = indices
        batch["weights"] = np.ones(len(indices), np.float32)
        return batch

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A uniform random batch (with replacement) plus ``indices`` and unit ``weights``."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self._gather(self.rng.integers(0, self.size, size=int(batch_size)))

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Uniform replay ignores TD errors (kept so agents treat both buffers alike)."""

    def state_dict(self) -> dict[str, Any]:
        """Arrays and counters for ``np.savez`` (checkpointing the buffer is optional)."""
        state = {name: getattr(self, name)[: self.size] for name in FIELDS}
        state.update(position=np.int64(self.position), size=np.int64(self.size))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        size = int(state["size"])
        if size > self.capacity or tuple(state["obs"].shape[1:]) != self.obs_shape:
            raise ValueError("saved replay buffer does not fit this buffer's capacity/obs shape")
        for name in FIELDS:
            getattr(self, name)[:size] = state[name]
        self.size, self.position = size, int(state["position"])


class SumTree:
    """Binary tree of priorities with O(log n) update and prefix-sum search, batched in NumPy."""

    def __init__(self, capacity: int):
        self.leaves = 1
        while self.leaves < capacity:
            self.leaves *= 2
        self.nodes = np.zeros(2 * self.leaves, np.float64)  # node 1 is the root

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def set(self, indices: np.ndarray, values: np.ndarray) -> None:
        for index, value in zip(np.asarray(indices), np.asarray(values, np.float64), strict=True):
            node = int(index) + self.leaves
            delta = value - self.nodes[node]
            while node >= 1:
                self.nodes[node] += delta
                node //= 2

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[np.asarray(indices) + self.leaves]

    def find(self, prefix_sums: np.ndarray) -> np.ndarray:
        """Leaf index whose cumulative-priority interval holds each prefix sum."""
        node = np.ones(len(prefix_sums), np.int64)
        mass = np.asarray(prefix_sums, np.float64).copy()
        while node[0] < self.leaves:
            left = 2 * node
            go_right = mass >= self.nodes[left]
            mass = np.where(go_right, mass - self.nodes[left], mass)
            node = np.where(go_right, left + 1, left)
        return node - self.leaves


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritised replay (Schaul et al. 2016): ``P(i) = p_i^alpha / sum_k p_k^alpha``.

    New transitions get the current maximum priority so each is replayed at least once soon;
    importance weights ``(N P(i))^-beta / max_j (N P(j))^-beta`` correct the sampling bias.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: Sequence[int],
        alpha: float = 0.6,
        epsilon: float = 1e-6,
        seed: int | None = None,
    ):
        super().__init__(capacity, obs_shape, seed)
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        self.alpha = float(alpha)
        self.epsilon = float(epsilon)
        self.tree = SumTree(self.capacity)
        self.max_priority = 1.0
        self.beta = 0.4

    def add(self, obs, action, reward, next_obs, discount) -> np.ndarray:
        slots = super().add(obs, action, reward, next_obs, discount)
        self.tree.set(slots, np.full(len(slots), self.max_priority**self.alpha))
        return slots

    def probabilities(self) -> np.ndarray:
        """Sampling probability of every stored transition (slot order)."""
        mass = self.tree.get(np.arange(self.size))
        return mass / mass.sum()

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """Stratified proportional sample with importance weights normalised to max 1."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        batch_size = int(batch_size)
        total = self.tree.total
        bounds = np.linspace(0.0, total, batch_size + 1)
        targets = self.rng.uniform(bounds[:-1], bounds[1:])
        indices = np.minimum(
            self.tree.find(np.minimum(targets, total * (1 - 1e-12))), self.size - 1
        )
        probs = self.tree.get(indices) / total
        weights = (self.size * probs) ** (-self.beta)
        batch = self._gather(indices)
        batch["weights"] = (weights / weights.max()).astype(np.float32)
        return batch

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        priorities = np.abs(np.asarray(td_errors, np.float64)) + self.epsilon
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.set(indices, priorities**self.alpha)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.tree.set(np.arange(self.size), np.full(self.size, self.max_priority**self.alpha))


class NStepAccumulator:
    """Turns per-step transitions of ``num_envs`` parallel envs into n-step transitions.

    Each env keeps a window of its last ``n`` steps; a full window yields one transition. When an
    episode ends every pending start is flushed: bootstrapped (``discount = gamma**k``) on
    truncation, not bootstrapped (``discount = 0``) on termination.
    """

    def __init__(self, n: int, gamma: float, num_envs: int = 1):
        if int(n) < 1:
            raise ValueError(f"n_step must be >= 1, got {n!r}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
        self.n, self.gamma = int(n), float(gamma)
        self.windows: list[collections.deque] = [collections.deque() for _ in range(int(num_envs))]

    def _emit(self, window, next_obs, terminated: bool) -> tuple:
        obs, action, _ = window[0]
        rewards = [step[2] for step in window]
        discount = 0.0 if terminated else self.gamma ** len(rewards)
        return obs, action, n_step_return(rewards, self.gamma), next_obs, discount

    def push(self, obs, actions, rewards, next_obs, terminated, truncated) -> list[tuple]:
        """Add one vector step; ``next_obs`` must be the true final observation at episode ends."""
        ready = []
        for env, window in enumerate(self.windows):
            window.append((np.array(obs[env], np.float32), int(actions[env]), float(rewards[env])))
            if terminated[env] or truncated[env]:
                while window:
                    ready.append(self._emit(window, next_obs[env], bool(terminated[env])))
                    window.popleft()
            elif len(window) == self.n:
                ready.append(self._emit(window, next_obs[env], False))
                window.popleft()
        return ready

    def reset(self) -> None:
        """Drop pending windows (e.g. after the environments were reset from outside)."""
        for window in self.windows:
            window.clear()

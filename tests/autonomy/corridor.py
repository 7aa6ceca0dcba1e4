"""A tiny deterministic gymnasium env for fast, reliable learning checks (known to make_env)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

CORRIDOR = "Corridor-v0"


class Corridor(gym.Env):
    """Walk right from cell 0 to the goal cell; +1 at the goal, -0.02 per step, 20-step limit.

    Observations are one-hot positions. A random walk rarely reaches the goal in time, the
    optimal policy (always RIGHT) gets 1 - 0.02 * (length - 2), so learning is easy to see.
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, length: int = 8, limit: int = 20, render_mode: str | None = None):
        self.length, self.limit, self.render_mode = length, limit, render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = gym.spaces.Discrete(4)  # 0 left, 1 right, 2 stay, 3 stay
        self.position, self.steps = 0, 0

    def _obs(self):
        obs = np.zeros(self.length, np.float32)
        obs[self.position] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return self._obs(), {}

    def step(self, action):
        move = {0: -1, 1: 1}.get(int(action), 0)
        self.position = int(np.clip(self.position + move, 0, self.length - 1))
        self.steps += 1
        at_goal = self.position == self.length - 1
        reward = 1.0 if at_goal else -0.02
        return self._obs(), reward, at_goal, self.steps >= self.limit and not at_goal, {}

    def render(self):
        frame = np.zeros((16, 16 * self.length, 3), np.uint8)
        frame[:, 16 * self.position : 16 * (self.position + 1)] = 255
        return frame


def _register():
    from autonomy.env import register_env

    register_env(
        CORRIDOR, lambda render_mode=None, **config: Corridor(render_mode=render_mode, **config)
    )


_register()

CORRIDOR_CONFIG = dict(
    env_name=CORRIDOR,
    hidden_units=[32],
    buffer_size=2000,
    batch_size=32,
    learning_rate=2e-3,
    gamma=0.9,
    n_step=3,
    learning_starts=100,
    target_update_interval=50,
    exploration_steps=800,
    seed=0,
)

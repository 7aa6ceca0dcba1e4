"""Two tiny continuous-control envs for fast SAC / HER checks (registered with make_env's registry).

``Steer-v0``: observe x ~ U[-1, 1], act a in [-2, 2], reward ``-(a - 1.5 x)^2``; 5 steps. The best
policy is ``a = 1.5 x`` (return 0); uniform random actions lose about 2.1 per step.
``Reach1D-v0``: goal-conditioned; move a point by ``0.3 a`` per step towards a goal in [-1, 1];
reward ``-|position - goal|`` (the env's ``compute_reward``); 10 steps.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

STEER = "Steer-v0"
REACH = "Reach1D-v0"


class Steer(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode: str | None = None):
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
        self.x, self.steps = 0.0, 0

    def _obs(self):
        self.x = float(self.np_random.uniform(-1.0, 1.0))
        return np.array([self.x], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        reward = -float((float(np.asarray(action).reshape(-1)[0]) - 1.5 * self.x) ** 2)
        self.steps += 1
        return self._obs(), reward, False, self.steps >= 5, {}

    def render(self):
        frame = np.zeros((16, 64, 3), np.uint8)
        frame[:, int(31 + 30 * self.x)] = 255
        return frame


class Reach1D(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode: str | None = None):
        self.render_mode = render_mode
        box = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
        self.observation_space = gym.spaces.Dict(
            {"observation": box, "achieved_goal": box, "desired_goal": box}
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.position, self.goal, self.steps = 0.0, 0.0, 0

    def compute_reward(self, achieved_goal, desired_goal, info):
        return -np.abs(np.asarray(achieved_goal) - np.asarray(desired_goal)).sum(axis=-1)

    def _obs(self):
        position = np.array([self.position], np.float32)
        goal = np.array([self.goal], np.float32)
        return {"observation": position, "achieved_goal": position, "desired_goal": goal}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.steps = 0.0, 0
        self.goal = float(self.np_random.uniform(-1.0, 1.0))
        return self._obs(), {}

    def step(self, action):
        move = 0.3 * float(np.clip(np.asarray(action).reshape(-1)[0], -1, 1))
        self.position = float(np.clip(self.position + move, -2.0, 2.0))
        self.steps += 1
        obs = self._obs()
        reward = float(self.compute_reward(obs["achieved_goal"], obs["desired_goal"], {}))
        success = abs(self.position - self.goal) < 0.1
        return obs, reward, False, self.steps >= 10, {"is_success": success}

    def render(self):
        frame = np.zeros((16, 64, 3), np.uint8)
        frame[:, int(31 + 15 * self.position)] = 255
        return frame


def _register():
    from autonomy.env import register_env

    register_env(STEER, lambda render_mode=None, **config: Steer(render_mode=render_mode))
    register_env(REACH, lambda render_mode=None, **config: Reach1D(render_mode=render_mode))


_register()

STEER_CONFIG = dict(
    env_name=STEER,
    hidden_units=[32, 32],
    batch_size=64,
    learning_rate=3e-3,
    gamma=0.5,
    learning_starts=200,
    buffer_size=5000,
    seed=0,
)

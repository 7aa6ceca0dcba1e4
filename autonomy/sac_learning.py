"""The ``SACAgent.learn`` loop: collect with the stochastic policy, store (and relabel), update.

Its pieces mirror ``autonomy.learning`` (DQN), whose ``EpisodeTracker`` and ``LearnReporter`` it
reuses: ``ControlRollout`` steps the vectorised envs (with worker processes the next step is
dispatched before the gradient step, so simulation and training overlap) and stores one-step
transitions, plus HER copies when an episode ends; ``run_sac_learn`` wires them together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import gymnasium as gym
import numpy as np

from autonomy.callbacks import AgentCallback
from autonomy.control_env import make_control_vector_env
from autonomy.her import Episode, relabel
from autonomy.learning import EpisodeTracker, LearnReporter

if TYPE_CHECKING:
    from autonomy.sac import SACAgent


def _env_obs(obs: Any, index: int) -> Any:
    """Env ``index``'s observation out of a vector observation (a goal dict or an array)."""
    if isinstance(obs, dict):
        return {key: value[index] for key, value in obs.items()}
    return obs[index]


class ControlRollout:
    """Steps the envs with sampled actions (uniform before ``learning_starts``, as SB3) and
    stores transitions; goal-conditioned episodes are relabelled (HER) when they end."""

    def __init__(self, agent: SACAgent, end: int) -> None:
        c = agent.config
        self.agent, self.end = agent, end
        self.envs: Any = cast(Any, make_control_vector_env(c.env_name, c.num_envs, **c.env_config))
        seed = c.seed + 1000 * agent.num_episodes + agent.num_timesteps
        self.obs, _ = self.envs.reset(seed=[seed + i for i in range(c.num_envs)])
        self.overlap = isinstance(self.envs, gym.vector.AsyncVectorEnv)
        self.episodes = [Episode() for _ in range(c.num_envs)] if agent.use_her else None
        self.actions: np.ndarray | None = None
        self.pending = False

    def _act(self, obs: Any) -> np.ndarray:
        """Normalised actions in [-1, 1] for a vector observation."""
        agent = self.agent
        batch = agent._flatten(obs)
        if agent.num_timesteps < agent.config.learning_starts:
            return agent.rng.uniform(-1.0, 1.0, (len(batch), agent.action_dim)).astype(np.float32)
        return agent._sample_normalised(batch)

    def _dispatch(self, obs: Any) -> np.ndarray:
        actions = self._act(obs)
        self.envs.step_async(self.agent.scale_action(actions))
        self.pending = True
        return actions

    def start(self) -> None:
        """Refresh the NumPy policy (weights may have been set) and dispatch the first step."""
        self.agent._rollout_actor.refresh()
        if self.overlap:
            self.actions = self._dispatch(self.obs)

    def step(self) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """One vector step: returns its rewards, which envs finished and the envs' infos."""
        agent = self.agent
        if self.overlap:
            self.pending = False
            next_obs, rewards, terminated, truncated, infos = self.envs.step_wait()
        else:
            self.actions = self._act(self.obs)
            next_obs, rewards, terminated, truncated, infos = self.envs.step(
                agent.scale_action(self.actions)
            )
        agent.num_timesteps += agent.config.num_envs
        next_actions = None
        if self.overlap and agent.num_timesteps < self.end:
            next_actions = self._dispatch(next_obs)
        done = np.logical_or(terminated, truncated)
        final = [
            infos["final_obs"][i] if done[i] else _env_obs(next_obs, i) for i in range(len(done))
        ]
        final_flat = np.stack([agent._flatten(obs)[0] for obs in final])
        discounts = agent.config.gamma * (1.0 - np.asarray(terminated, np.float32))
        assert self.actions is not None
        agent.replay.add(agent._flatten(self.obs), self.actions, rewards, final_flat, discounts)
        if self.episodes is not None:
            self._remember(final, rewards, discounts, done)
        self.obs, self.actions = next_obs, next_actions
        return np.asarray(rewards), done, infos

    def _remember(self, final: list, rewards, discounts, done) -> None:
        """Keep goal episodes per env; add their hindsight copies when they end."""
        agent = self.agent
        assert self.episodes is not None and self.actions is not None
        for i, episode in enumerate(self.episodes):
            episode.add(_env_obs(self.obs, i), self.actions[i], rewards[i], final[i], discounts[i])
            if done[i]:
                copies = relabel(episode, agent.config.her_goals, agent.compute_reward, agent.rng)
                agent.replay.add(**copies)
                self.episodes[i] = Episode()

    def close(self) -> None:
        """Collect a dispatched step (a callback stopped early) and close the envs."""
        try:
            if self.pending:
                self.envs.step_wait()
        finally:
            self.envs.close()


class UpdateSchedule:
    """``gradient_steps`` updates every ``train_freq`` vector steps once replay is ready."""

    def __init__(self, agent: SACAgent) -> None:
        self.agent = agent
        self.vector_steps = 0
        self.losses: deque[float] = deque(maxlen=100)

    def step(self) -> None:
        agent, c = self.agent, self.agent.config
        self.vector_steps += 1
        ready = agent.num_timesteps >= c.learning_starts and len(agent.replay) >= c.batch_size
        if ready and self.vector_steps % c.train_freq == 0:
            for _ in range(c.gradient_steps):
                self.losses.append(agent._gradient_step())

    def mean_loss(self) -> float:
        """Mean critic loss of the last 100 gradient steps (NaN before the first)."""
        return float(np.mean(self.losses)) if self.losses else float("nan")


def run_sac_learn(
    agent: SACAgent, total_steps: int, callbacks: Sequence[AgentCallback], log_every: int
) -> None:
    """Collect ``total_steps`` more env steps with ``agent`` and train it as it goes."""
    end = agent.num_timesteps + int(total_steps)
    rollout = ControlRollout(agent, end)
    episodes = EpisodeTracker(agent, callbacks)  # type: ignore[arg-type]
    schedule = UpdateSchedule(agent)
    reporter = LearnReporter(agent, callbacks, log_every)  # type: ignore[arg-type]
    try:
        for callback in callbacks:
            callback.on_learn_begin(agent, int(total_steps))
        rollout.start()
        while agent.num_timesteps < end:
            rewards, done, infos = rollout.step()
            episodes.update(rewards, done, infos)
            schedule.step()
            if not reporter.step(episodes, schedule):  # type: ignore[arg-type]
                break
    finally:
        rollout.close()
        reporter.finish()
    for callback in callbacks:
        callback.on_learn_end(agent)

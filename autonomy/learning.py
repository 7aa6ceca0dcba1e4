"""The ``learn`` loop of the replay agents (``DQNAgent``, ``SACAgent``), in four pieces.

    rollout   = agent.rollout_class(agent, end)  # act, step the envs, store transitions
    episodes  = EpisodeTracker(agent, ...)       # running returns; finished episodes -> history
    schedule  = agent.schedule_class(agent)      # gradient steps (and target syncs) when due
    reporter  = LearnReporter(agent, ...)        # the logs callbacks get and the printed summary

``VectorRollout`` and ``UpdateSchedule`` hold what both agents' pieces share (the agents' own
are in ``autonomy.dqn_learning`` and ``autonomy.sac_learning``); ``run_learn`` wires them
together, and ``OffPolicyAgent.learn`` adds the default callbacks and calls it.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import gymnasium as gym
import numpy as np

from autonomy.callbacks import AgentCallback, ProgressBar

if TYPE_CHECKING:
    from autonomy.agent_base import OffPolicyAgent


class VectorStep(NamedTuple):
    """What one vector step returned (``done``: terminated or truncated), for storing."""

    next_obs: Any
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    done: np.ndarray
    infos: dict[str, Any]


class VectorRollout:
    """Steps vectorised envs with the agent's actions; a subclass stores the transitions.

    With worker processes (``AsyncVectorEnv``) the next step is dispatched before the gradient
    step of this one, so the workers simulate while this process trains: only acting is on the
    critical path. ``close`` collects a step still in flight (after an early stop).
    """

    def __init__(self, agent: OffPolicyAgent, end: int) -> None:
        c = agent.config
        self.agent, self.end = agent, end
        # typed Any: AsyncVectorEnv's step_async / step_wait are not on gymnasium's VectorEnv
        self.envs: Any = self._make_envs()
        seed = c.seed + 1000 * agent.num_episodes + agent.num_timesteps
        self.obs, _ = self.envs.reset(seed=[seed + i for i in range(c.num_envs)])
        self.overlap = isinstance(self.envs, gym.vector.AsyncVectorEnv)
        self.actions: np.ndarray | None = None
        self.pending = False  # a step dispatched to the worker processes and not yet collected

    def _make_envs(self) -> Any:
        """The agent's ``config.num_envs`` envs as one vector env."""
        raise NotImplementedError

    def _act(self, obs: Any) -> np.ndarray:
        """The actions (as stored in replay) for a vector observation."""
        raise NotImplementedError

    def _env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What the envs step with for stored ``actions`` (the same, unless rescaled)."""
        return actions

    def _store(self, step: VectorStep) -> None:
        """Store the transitions from ``self.obs`` with ``self.actions`` (before they move on)."""
        raise NotImplementedError

    def _dispatch(self, obs: Any) -> np.ndarray:
        actions = self._act(obs)
        self.envs.step_async(self._env_actions(actions))
        self.pending = True
        return actions

    def start(self) -> None:
        """With workers, dispatch the first step (subclasses first pick the acting network)."""
        if self.overlap:
            self.actions = self._dispatch(self.obs)

    def step(self) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """One vector step: returns its rewards, which envs finished and the envs' infos."""
        agent = self.agent
        if self.overlap:
            self.pending = False  # collected here (or failed: nothing left to collect)
            next_obs, rewards, terminated, truncated, infos = self.envs.step_wait()
        else:
            self.actions = self._act(self.obs)
            next_obs, rewards, terminated, truncated, infos = self.envs.step(
                self._env_actions(self.actions)
            )
        agent.num_timesteps += agent.config.num_envs
        next_actions = None
        if self.overlap and agent.num_timesteps < self.end:
            next_actions = self._dispatch(next_obs)
        done = np.logical_or(terminated, truncated)
        self._store(VectorStep(next_obs, rewards, terminated, truncated, done, infos))
        self.obs, self.actions = next_obs, next_actions
        return np.asarray(rewards), done, infos

    def close(self) -> None:
        """Collect a dispatched step (a callback stopped early) and close the envs."""
        try:
            if self.pending:
                self.envs.step_wait()
        finally:
            self.envs.close()


class EpisodeTracker:
    """Running return and length per env; finished episodes go to the history and callbacks."""

    def __init__(self, agent: OffPolicyAgent, callbacks: Sequence[AgentCallback]) -> None:
        num_envs = agent.config.num_envs
        self.agent, self.callbacks = agent, callbacks
        self.returns = np.zeros(num_envs)
        self.lengths = np.zeros(num_envs, np.int64)
        self.recent: deque[float] = deque(maxlen=20)

    def update(self, rewards: np.ndarray, done: np.ndarray, infos: dict[str, Any]) -> None:
        """Add one vector step; close the episodes that ended with it."""
        agent = self.agent
        self.returns += rewards
        self.lengths += 1
        for i in np.flatnonzero(done):
            crashed = infos.get("final_info", {}).get("crashed")
            success = infos.get("final_info", {}).get("is_success")  # goal envs (parking)
            logs = {
                "return": float(self.returns[i]),
                "length": float(self.lengths[i]),
                "crashed": float(bool(crashed[i])) if crashed is not None else 0.0,
            }
            if success is not None:
                logs["success"] = float(bool(success[i]))
            agent.num_episodes += 1
            self.recent.append(logs["return"])
            agent.history["episode_return"].append(logs["return"])
            agent.history["episode_length"].append(logs["length"])
            self.returns[i], self.lengths[i] = 0.0, 0
            for callback in self.callbacks:
                callback.on_episode_end(agent, logs)

    def mean_return(self) -> float:
        """Mean return of the last 20 finished episodes (NaN before the first)."""
        return float(np.mean(self.recent)) if self.recent else float("nan")


class UpdateSchedule:
    """``gradient_steps`` updates every ``train_freq`` vector steps once replay is ``ready``.

    With worker processes the updates run while they simulate the next step (already chosen by
    the network before this update), so they cost no wall time of their own.
    """

    def __init__(self, agent: OffPolicyAgent) -> None:
        self.agent = agent
        self.vector_steps = 0
        self.losses: deque[float] = deque(maxlen=100)

    def ready(self) -> bool:
        """Past ``learning_starts``, with a batch's worth of replay."""
        agent, c = self.agent, self.agent.config
        return agent.num_timesteps >= c.learning_starts and len(agent.replay) >= c.batch_size

    def step(self) -> None:
        """Run the gradient steps due after one vector step."""
        agent, c = self.agent, self.agent.config
        self.vector_steps += 1
        if self.ready() and self.vector_steps % c.train_freq == 0:
            for _ in range(c.gradient_steps):
                self.losses.append(agent._gradient_step())

    def mean_loss(self) -> float:
        """Mean loss of the last 100 gradient steps (NaN before the first)."""
        return float(np.mean(self.losses)) if self.losses else float("nan")


class LearnReporter:
    """Builds the logs ``on_step`` callbacks get and prints a summary every ``log_every`` steps."""

    def __init__(self, agent: OffPolicyAgent, callbacks: Sequence[AgentCallback], log_every: int):
        self.agent, self.callbacks, self.log_every = agent, callbacks, int(log_every)
        self.started = time.perf_counter()
        self.start_steps = agent.num_timesteps
        self.write = print
        if any(isinstance(callback, ProgressBar) for callback in callbacks):
            from tqdm.auto import tqdm

            self.write = tqdm.write  # prints above the bar instead of through it

    def steps_per_second(self) -> float:
        """Env steps per second since ``learn`` began."""
        elapsed = time.perf_counter() - self.started
        return (self.agent.num_timesteps - self.start_steps) / max(elapsed, 1e-9)

    def step(self, episodes: EpisodeTracker, schedule: UpdateSchedule) -> bool:
        """Log this step; ``False`` when a callback asks to stop."""
        agent = self.agent
        log_now = bool(self.log_every) and (
            agent.num_timesteps % self.log_every < agent.config.num_envs
        )
        if not (self.callbacks or log_now):
            return True
        logs = {
            **agent.exploration_logs(),  # DQN: epsilon; SAC: the entropy temperature alpha
            "loss": schedule.mean_loss(),
            "mean_return": episodes.mean_return(),
            "steps_per_second": self.steps_per_second(),
        }
        if log_now:
            self.write(
                f"step {agent.num_timesteps}: episodes {agent.num_episodes}, "
                f"mean return {logs['mean_return']:.2f}, "
                + "".join(f"{k} {v:.3f}, " for k, v in agent.exploration_logs().items())
                + f"loss {logs['loss']:.4f}, {logs['steps_per_second']:.0f} steps/s"
            )
            sys.stdout.flush()
        return not any(callback.on_step(agent, logs) is False for callback in self.callbacks)

    def finish(self) -> None:
        """Record the wall time and throughput of this ``learn`` on the agent."""
        agent = self.agent
        agent.train_seconds = time.perf_counter() - self.started
        agent.train_steps_per_second = (agent.num_timesteps - self.start_steps) / max(
            agent.train_seconds, 1e-9
        )


def run_learn(
    agent: OffPolicyAgent, total_steps: int, callbacks: Sequence[AgentCallback], log_every: int
) -> None:
    """Collect ``total_steps`` more env steps with ``agent`` and train it as it goes."""
    end = agent.num_timesteps + int(total_steps)
    rollout = agent.rollout_class(agent, end)
    episodes = EpisodeTracker(agent, callbacks)
    schedule = agent.schedule_class(agent)
    reporter = LearnReporter(agent, callbacks, log_every)
    try:
        for callback in callbacks:
            callback.on_learn_begin(agent, int(total_steps))
        rollout.start()
        while agent.num_timesteps < end:
            rewards, done, infos = rollout.step()
            episodes.update(rewards, done, infos)
            schedule.step()
            if not reporter.step(episodes, schedule):
                break
    finally:
        rollout.close()
        reporter.finish()
    for callback in callbacks:
        callback.on_learn_end(agent)

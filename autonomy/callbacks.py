"""Callbacks for ``DQNAgent.learn``: progress bar, TensorBoard scalars and periodic checkpoints.

An RL loop is not ``model.fit``, so these follow SB3's shape: hooks receive the agent and a dict
of logs, and ``on_step`` may return ``False`` to stop training early.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: File name of the agent checkpoint ``learn(checkpoint_dir=...)`` keeps up to date.
CHECKPOINT_FILE = "agent.keras"


class AgentCallback:
    """Base class: override any hook; ``on_step`` returning ``False`` stops ``learn``."""

    def on_learn_begin(self, agent: Any, total_steps: int) -> None:
        pass

    def on_step(self, agent: Any, logs: dict[str, float]) -> bool | None:
        return None

    def on_episode_end(self, agent: Any, logs: dict[str, float]) -> None:
        pass

    def on_learn_end(self, agent: Any) -> None:
        pass


class ProgressBar(AgentCallback):
    """A tqdm bar over env steps showing epsilon, loss and the recent mean episode return."""

    def __init__(self, every: int = 100):
        self.every = max(1, int(every))
        self.bar = None
        self._last = 0

    def on_learn_begin(self, agent, total_steps):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total_steps, unit="step", desc=agent.config.env_name)
        self._last = agent.num_timesteps

    def on_step(self, agent, logs):
        if self.bar is not None and agent.num_timesteps - self._last >= self.every:
            self.bar.update(agent.num_timesteps - self._last)
            self._last = agent.num_timesteps
            exploration = {k: f"{logs[k]:.2f}" for k in ("epsilon", "alpha") if k in logs}
            self.bar.set_postfix(
                **exploration,
                loss=f"{logs.get('loss', float('nan')):.3f}",
                ret=f"{logs.get('mean_return', float('nan')):.1f}",
            )
        return None

    def on_learn_end(self, agent):
        if self.bar is not None:
            self.bar.update(agent.num_timesteps - self._last)
            self.bar.close()


class TensorBoard(AgentCallback):
    """Writes loss / epsilon / steps per second and episode return / length / crash to ``log_dir``.

    The files are TensorBoard event files (``tensorboard --logdir LOG_DIR`` shows them).
    """

    def __init__(self, log_dir: str | os.PathLike, every: int = 100):
        self.log_dir = Path(log_dir)
        self.every = max(1, int(every))
        self.writer: Any = None  # a tf.summary file writer once learn begins

    def on_learn_begin(self, agent, total_steps):
        import tensorflow as tf

        self.writer = tf.summary.create_file_writer(str(self.log_dir))

    def _write(self, prefix: str, step: int, logs: dict[str, float]) -> None:
        import tensorflow as tf

        with self.writer.as_default(step=step):
            for key, value in logs.items():
                tf.summary.scalar(f"{prefix}/{key}", float(value))

    def on_step(self, agent, logs):
        if self.writer is not None and agent.num_timesteps % self.every < agent.config.num_envs:
            self._write("train", agent.num_timesteps, logs)
        return None

    def on_episode_end(self, agent, logs):
        if self.writer is not None:
            self._write("episode", agent.num_timesteps, logs)

    def on_learn_end(self, agent):
        if self.writer is not None:
            self.writer.flush()


class Checkpoint(AgentCallback):
    """Saves the agent to ``path`` every ``every`` env steps and at the end (buffer optional)."""

    def __init__(self, path: str | os.PathLike, every: int = 5000, include_buffer: bool = False):
        self.path = Path(path)
        self.every = max(1, int(every))
        self.include_buffer = include_buffer
        self._last = 0

    def on_learn_begin(self, agent, total_steps):
        self._last = agent.num_timesteps
        self._remove_stale_saves()

    def _remove_stale_saves(self, older_than_s: float = 3600.0) -> None:
        """Delete this checkpoint's half-written saves left by a killed run (an hour old)."""
        from common.atomic import STAGING_PREFIX

        if not self.path.parent.is_dir():
            return
        ours = (f"-{self.path.name}", f"-{self.path.name}.replay.npz")
        for leftover in self.path.parent.glob(f"{STAGING_PREFIX}*"):
            try:
                stale = time.time() - leftover.stat().st_mtime > older_than_s
            except FileNotFoundError:
                continue
            if stale and leftover.is_file() and leftover.name.endswith(ours):
                leftover.unlink(missing_ok=True)

    def on_step(self, agent, logs):
        if agent.num_timesteps - self._last >= self.every:
            agent.save(self.path, include_buffer=self.include_buffer)
            self._last = agent.num_timesteps
        return None

    def on_learn_end(self, agent):
        agent.save(self.path, include_buffer=self.include_buffer)


class StopAfter(AgentCallback):
    """Stops ``learn`` once the agent's global step count reaches ``steps`` (simulates a crash)."""

    def __init__(self, steps: int):
        self.steps = int(steps)

    def on_step(self, agent, logs):
        return agent.num_timesteps < self.steps


def learn_callbacks(
    callbacks: Sequence[AgentCallback] = (),
    progress_bar: bool = True,
    log_dir: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 5000,
) -> list[AgentCallback]:
    """``callbacks`` plus what ``learn``'s arguments ask for: a progress bar (unless one is
    there already), TensorBoard logs in ``log_dir``, checkpoints in ``checkpoint_dir``.

    The built-in ones go first, so a user callback that stops training cannot starve them.
    """
    built_in: list[AgentCallback] = []
    if progress_bar and not any(isinstance(c, ProgressBar) for c in callbacks):
        built_in.append(ProgressBar())
    if log_dir is not None:
        built_in.append(TensorBoard(log_dir))
    if checkpoint_dir is not None:
        built_in.append(Checkpoint(Path(checkpoint_dir) / CHECKPOINT_FILE, every=checkpoint_every))
    return [*built_in, *callbacks]

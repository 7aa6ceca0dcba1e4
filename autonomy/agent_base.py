"""``OffPolicyAgent``: what ``DQNAgent`` and ``SACAgent`` share beyond networks and updates.

Counters and episode history, ``learn``'s options (default callbacks, progress bar, log
cadence) around the loop of ``autonomy.learning``, the agent file (``save`` / ``load`` through
``autonomy.agent_file``), the numbered SavedModel ``export``, and ``evaluate`` / ``record``
(``PolicyRollouts``). A subclass builds its networks and says, through a few hooks, which
network the file and the export hold, which arrays ride beside it and how to put them back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import keras
import numpy as np

from autonomy import agent_file
from autonomy.callbacks import AgentCallback, ProgressBar, learn_callbacks
from autonomy.evaluation import PolicyRollouts
from autonomy.learning import UpdateSchedule, VectorRollout, run_learn
from common import export as export_lib

AgentT = TypeVar("AgentT", bound="OffPolicyAgent")


def check_batch(batch: np.ndarray) -> np.ndarray:
    """``batch`` (observations ``[N, ...]``) itself, once it is known non-empty and finite."""
    if batch.shape[0] == 0:
        raise ValueError("act needs at least one observation, got an empty batch")
    if not np.all(np.isfinite(batch)):
        raise ValueError("observation contains NaN or infinite values")
    return batch


class OffPolicyAgent(PolicyRollouts):
    """Base of the replay-buffer agents: counters, ``learn``, agent files, export, rollouts.

    Subclasses set ``config`` (with ``env_name``, ``env_config``, ``seed``), ``replay`` and their
    networks in ``__init__`` (calling ``_init_counters``), and name the loop pieces ``learn``
    runs in ``rollout_class`` and ``schedule_class``.
    """

    config: Any
    replay: Any  # autonomy.replay.ReplayBuffer (or its prioritised subclass)
    #: Marks a class whose own ``load`` reads its task file (``common.task.load_task`` calls it).
    dlsuite_task_file: ClassVar[bool] = True
    #: Steps the envs and stores transitions during ``learn``.
    rollout_class: ClassVar[type[VectorRollout]]
    #: Runs the gradient steps (and anything else due) after each vector step.
    schedule_class: ClassVar[type[UpdateSchedule]]

    def _init_counters(self) -> None:
        """Zero counters, an empty episode history and the agent's NumPy generator."""
        self.num_timesteps = 0
        self.num_updates = 0
        self.num_episodes = 0
        self.train_seconds = 0.0  # wall time and throughput of the last learn
        self.train_steps_per_second = 0.0
        self.rng = np.random.default_rng(self.config.seed)
        self.history: dict[str, list[float]] = {"episode_return": [], "episode_length": []}

    def exploration_logs(self) -> dict[str, float]:
        """What ``learn``'s logs (and the saved state) report about exploration."""
        raise NotImplementedError

    def _gradient_step(self) -> float:
        """One update on a replay batch; returns the loss ``learn`` reports."""
        raise NotImplementedError

    # ------------------------------------------------------------------ learning
    def learn(
        self,
        total_steps: int,
        callbacks: Sequence[AgentCallback] = (),
        log_every: int | None = None,
        progress_bar: bool = True,
        log_dir: str | os.PathLike | None = None,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every: int = 5000,
    ) -> dict[str, list[float]]:
        """Collect ``total_steps`` more env steps (counted over all envs) and train as it goes.

        Counters, exploration, optimizer moments and the replay buffer continue from where a
        previous ``learn`` (or a loaded checkpoint) stopped; a callback's ``on_step`` returning
        ``False`` stops early.

        - ``progress_bar``: a tqdm bar over env steps, on by default (as SB3's
          ``progress_bar=True``); not doubled when ``callbacks`` hold a ``ProgressBar``.
        - ``log_dir``: TensorBoard scalars (loss, epsilon or alpha, episode return, length,
          crashes), shown by ``tensorboard --logdir LOG_DIR``.
        - ``checkpoint_dir``: the agent saved as ``agent.keras`` there every
          ``checkpoint_every`` env steps and at the end; resume with
          ``load(checkpoint_dir / "agent.keras").learn(...)``.
        - ``log_every``: a one-line summary that often (0 = none); by default 1000 without a
          progress bar and 0 with one.
        """
        if int(total_steps) < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps!r}")
        callbacks = learn_callbacks(
            callbacks, progress_bar, log_dir, checkpoint_dir, checkpoint_every
        )
        if log_every is None:
            log_every = 0 if any(isinstance(c, ProgressBar) for c in callbacks) else 1000
        run_learn(self, int(total_steps), callbacks, log_every)
        return self.history

    def rollout_env(self) -> tuple[str, Mapping[str, Any]]:
        """The env ``evaluate`` and ``record`` (``PolicyRollouts``) run the policy in."""
        return self.config.env_name, self.config.env_config

    # ------------------------------------------------------------------ persistence
    @classmethod
    def qualified_name(cls) -> str:
        """The class name agent files record, as task files do (``autonomy.dqn.DQNAgent``)."""
        return f"{cls.__module__}.{cls.__qualname__}"

    def get_state(self) -> dict[str, Any]:
        """Counters and episode history: what a saved agent keeps beyond config and weights
        (plus ``exploration_logs``, which follow from them, for people reading the file)."""
        return {
            "num_timesteps": self.num_timesteps,
            "num_updates": self.num_updates,
            "num_episodes": self.num_episodes,
            **self.exploration_logs(),
            "history": self.history,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``get_state`` returned."""
        self.num_timesteps = int(state["num_timesteps"])
        self.num_updates = int(state["num_updates"])
        self.num_episodes = int(state["num_episodes"])
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}

    def _file_model(self) -> keras.Model:
        """The model the agent file is (its ``.keras`` archive)."""
        raise NotImplementedError

    def _file_arrays(self) -> list[np.ndarray]:
        """What the file keeps beside the model (``agent_file.TARGET_FILE``), in a fixed order."""
        raise NotImplementedError

    def _restore_file(self, loaded: keras.Model, arrays: list[np.ndarray], path: Path) -> None:
        """Take the weights (and state) of ``loaded`` and ``arrays`` read from ``path``."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike, include_buffer: bool = False) -> Path:
        """One ``.keras`` file: the model (``_file_model``), the arrays beside it
        (``_file_arrays``), config and counters.

        The file carries the task header (``dlsuite_task.json``), so ``common.task.load_task``
        loads it too. With ``include_buffer`` the replay buffer goes to ``<path>.replay.npz``
        beside it. Both are written under staging names and renamed into place when complete.
        """
        payload = {
            "task": self.qualified_name(),
            "config": self.config.to_dict(),
            "state": self.get_state(),
            "format": agent_file.FORMAT,
        }
        return agent_file.write_agent_file(
            path,
            self._file_model(),
            self._file_arrays(),
            payload,
            replay_state=self.replay.state_dict() if include_buffer else None,
        )

    @classmethod
    def load(cls: type[AgentT], path: str | os.PathLike, load_buffer: bool = True) -> AgentT:
        """Rebuild an agent saved with ``save`` (any format); training continues with ``learn``."""
        payload, arrays = agent_file.read_agent_file(path, cls.qualified_name())
        agent = cls(**payload["config"])
        loaded = keras.saving.load_model(path, safe_mode=True)
        agent._restore_file(loaded, arrays, Path(path))
        agent.set_state(payload["state"])
        buffer_path = agent_file.replay_path(path)
        if load_buffer and buffer_path.is_file():
            with np.load(buffer_path) as state:
                agent.replay.load_state_dict(dict(state))
        return agent

    # ------------------------------------------------------------------ export
    def _served_model(self) -> keras.Model:
        """The network the SavedModel tracks (its variables)."""
        raise NotImplementedError

    def serving_endpoints(self) -> dict[str, export_lib.Endpoint]:
        """The SavedModel's signatures: name -> (function, input specs)."""
        raise NotImplementedError

    def warmup_inputs(self) -> dict[str, Any]:
        """One zero request for the TF Serving warmup file."""
        raise NotImplementedError

    def export(self, base_dir: str | os.PathLike, version: int | None = None) -> Path:
        """Write the policy as a TF Serving SavedModel version under ``base_dir`` (atomic)."""
        return export_lib.export_saved_model(
            base_dir,
            self._served_model(),
            self.serving_endpoints(),
            warmup_inputs=self.warmup_inputs(),
            version=version,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(env_name={self.config.env_name!r}, steps={self.num_timesteps})"
        )

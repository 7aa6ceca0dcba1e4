"""Agent files: the Q-network's ``.keras`` file, carrying the dlsuite task header as well.

The header is the one every task file has (``common.task.TASK_FILE``: task class, config, state,
format), so ``common.task.load_task`` and the CLI load agents as they load tasks. The target
network's weights ride along as ``target_weights.npz``, and the replay buffer may sit beside the
file as ``<file>.replay.npz``. Files written before agents used the task header keep their
counters in ``dlsuite_agent.json``; ``read_agent_file`` reads them into the same payload.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from common.atomic import staged
from common.task import TASK_FILE

TARGET_FILE = "target_weights.npz"
LEGACY_AGENT_FILE = "dlsuite_agent.json"  # the header before agents used the task header
_LEGACY_NAMES = {"autonomy.DQNAgent": "autonomy.dqn.DQNAgent"}
_STATE_KEYS = ("num_timesteps", "num_updates", "num_episodes", "epsilon", "history")
FORMAT = 1


def replay_path(path: str | os.PathLike) -> Path:
    """Where the replay buffer of the agent file ``path`` is kept: ``<path>.replay.npz``."""
    return Path(f"{path}.replay.npz")


def write_agent_file(
    path: str | os.PathLike,
    q_network: keras.Model,
    target_weights: Sequence[np.ndarray],
    payload: Mapping[str, Any],
    replay_state: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write the agent file (and its replay buffer) through staging names renamed into place.

    A failed write leaves the files already there untouched and no staging file behind.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"agent files use the .keras extension, got {path.name!r}")
    with staged(path) as staging:
        q_network.save(staging)  # staging names end in the target's name, so in .keras
        with zipfile.ZipFile(staging, "a") as archive:
            archive.writestr(TASK_FILE, json.dumps(dict(payload)))
            target: dict[str, Any] = {f"w{i}": w for i, w in enumerate(target_weights)}
            with archive.open(TARGET_FILE, "w") as handle:
                np.savez(handle, **target)
        if replay_state is not None:
            arrays: dict[str, Any] = dict(replay_state)
            with staged(replay_path(path)) as buffer_staging, open(buffer_staging, "wb") as handle:
                np.savez(handle, **arrays)
    return path


def _from_legacy_header(header: Mapping[str, Any]) -> dict[str, Any]:
    """The task payload equivalent to a ``dlsuite_agent.json`` header."""
    name = str(header.get("agent", ""))
    return {
        "task": _LEGACY_NAMES.get(name, name),
        "config": header["config"],
        "state": {key: header[key] for key in _STATE_KEYS if key in header},
        "format": FORMAT,
    }


def read_agent_file(path: str | os.PathLike, task: str) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The task payload and the target-network weights of the ``task`` agent file at ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such agent file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if TASK_FILE in names:
                payload = json.loads(archive.read(TASK_FILE))
            elif LEGACY_AGENT_FILE in names:
                payload = _from_legacy_header(json.loads(archive.read(LEGACY_AGENT_FILE)))
            else:
                raise ValueError(f"{path} is not a dlsuite agent file (no {TASK_FILE})")
            if payload.get("task") != task:
                raise ValueError(f"{path} holds a {payload.get('task')}, not a {task}")
            if TARGET_FILE not in names:
                raise ValueError(
                    f"{path} is damaged: its target network ({TARGET_FILE}) is missing"
                )
            with archive.open(TARGET_FILE) as handle, np.load(handle) as target:
                target_weights = [target[f"w{i}"] for i in range(len(target.files))]
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is not a .keras file (not a zip archive)") from error
    return payload, target_weights

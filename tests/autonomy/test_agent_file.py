"""Agent files: the task header, load_task, files of the older format, failed writes."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from autonomy import DQNAgent
from autonomy import agent_file as agent_file_lib
from common.task import TASK_FILE, load_task, read_task_file
from tests.autonomy.corridor import CORRIDOR_CONFIG

EYE = np.eye(8, dtype=np.float32)


def _save_the_old_way(agent: DQNAgent, path, include_buffer: bool = False) -> None:
    """Write ``path`` as ``DQNAgent.save`` did before agents used the task header."""
    header = {
        "agent": "autonomy.DQNAgent",
        "format": 1,
        "config": agent.config.to_dict(),
        "num_timesteps": agent.num_timesteps,
        "num_updates": agent.num_updates,
        "num_episodes": agent.num_episodes,
        "epsilon": agent.epsilon,
        "history": agent.history,
    }
    agent.q_network.save(path)
    target = {f"w{i}": w for i, w in enumerate(agent.target_network.get_weights())}
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("dlsuite_agent.json", json.dumps(header))
        with archive.open("target_weights.npz", "w") as handle:
            np.savez(handle, **target)
    if include_buffer:
        with open(f"{path}.replay.npz", "wb") as handle:
            np.savez(handle, **agent.replay.state_dict())


def _assert_same_agent(loaded: DQNAgent, agent: DQNAgent) -> None:
    assert isinstance(loaded, DQNAgent) and loaded.config == agent.config
    np.testing.assert_array_equal(loaded.q_values(EYE), agent.q_values(EYE))
    for mine, theirs in zip(
        loaded.target_network.get_weights(), agent.target_network.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)
    assert (loaded.num_timesteps, loaded.num_updates, loaded.num_episodes) == (
        agent.num_timesteps,
        agent.num_updates,
        agent.num_episodes,
    )
    assert loaded.history == agent.history


def test_agent_files_carry_the_task_header_and_load_through_load_task(corridor_agent, tmp_path):
    path = corridor_agent.save(tmp_path / "agent.keras")
    payload = read_task_file(path)
    assert payload["task"] == "autonomy.dqn.DQNAgent" and payload["format"] == 1
    assert payload["config"] == corridor_agent.config.to_dict()
    assert payload["state"]["num_timesteps"] == corridor_agent.num_timesteps == 1500
    assert DQNAgent.dlsuite_task_file is True
    _assert_same_agent(load_task(path), corridor_agent)


def test_files_written_before_the_task_header_still_load(corridor_agent, tmp_path):
    path = tmp_path / "old.keras"
    _save_the_old_way(corridor_agent, path, include_buffer=True)
    with zipfile.ZipFile(path) as archive:
        assert TASK_FILE not in archive.namelist()
    loaded = DQNAgent.load(path)
    _assert_same_agent(loaded, corridor_agent)
    assert len(loaded.replay) == len(corridor_agent.replay) > 0
    np.testing.assert_array_equal(loaded.replay.obs, corridor_agent.replay.obs)
    loaded.save(path)  # saving again writes the task header
    assert read_task_file(path)["task"] == "autonomy.dqn.DQNAgent"
    _assert_same_agent(DQNAgent.load(path), corridor_agent)


@pytest.mark.parametrize("failing_write", [1, 2], ids=["target-weights", "replay-buffer"])
def test_a_failed_save_leaves_the_saved_files_intact(
    corridor_agent, tmp_path, monkeypatch, failing_write
):
    path = corridor_agent.save(tmp_path / "agent.keras", include_buffer=True)
    buffer_bytes = agent_file_lib.replay_path(path).read_bytes()
    other = DQNAgent(**dict(CORRIDOR_CONFIG, seed=1))
    assert not np.array_equal(other.q_values(EYE), corridor_agent.q_values(EYE))
    savez, calls = np.savez, []

    def flaky_savez(*args, **kwargs):
        calls.append(1)
        if len(calls) == failing_write:
            raise OSError("disk full")
        return savez(*args, **kwargs)

    # the new Q-network is already in the staging file when the 1st (target) or the 2nd
    # (replay buffer, the last step before the renames) write fails
    monkeypatch.setattr(agent_file_lib.np, "savez", flaky_savez)
    with pytest.raises(OSError, match="disk full"):
        other.save(path, include_buffer=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.keras", "agent.keras.replay.npz"]
    assert agent_file_lib.replay_path(path).read_bytes() == buffer_bytes
    _assert_same_agent(DQNAgent.load(path), corridor_agent)
    assert len(DQNAgent.load(path).replay) == len(corridor_agent.replay)


def test_load_names_what_a_file_holds_when_it_is_not_an_agent(tmp_path):
    other_task = tmp_path / "classifier.keras"
    with zipfile.ZipFile(other_task, "w") as archive:
        payload = {"task": "vision.classification.ImageClassifier", "config": {}, "format": 1}
        archive.writestr(TASK_FILE, json.dumps(payload))
    with pytest.raises(ValueError, match="holds a vision.classification.ImageClassifier, not"):
        DQNAgent.load(other_task)
    plain = tmp_path / "plain.keras"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match="not a dlsuite agent file"):
        DQNAgent.load(plain)
    with pytest.raises(ValueError, match="no such agent file"):
        DQNAgent.load(tmp_path / "missing.keras")

"""DQNAgent.learn: the split loop equals the plain one; progress bar, TensorBoard, checkpoints."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from autonomy import DQNAgent, ProgressBar, StopAfter, TensorBoard
from autonomy.callbacks import CHECKPOINT_FILE, Checkpoint, learn_callbacks
from autonomy.env import make_vector_env
from autonomy.replay import NStepAccumulator
from tests.autonomy.corridor import CORRIDOR_CONFIG

SCHEDULE = dict(
    CORRIDOR_CONFIG,
    prioritized=True,
    train_freq=2,
    gradient_steps=2,
    target_update_interval=30,
    tau=0.5,
    learning_starts=60,
)


def plain_learn(agent: DQNAgent, total_steps: int) -> None:
    """The loop ``learn`` runs for one env, written out in one piece (CleanRL style)."""
    c = agent.config
    envs: Any = make_vector_env(c.env_name, c.num_envs, **c.env_config)
    nstep = NStepAccumulator(c.n_step, c.gamma, c.num_envs)
    seed = c.seed + 1000 * agent.num_episodes + agent.num_timesteps
    obs, _ = envs.reset(seed=[seed + i for i in range(c.num_envs)])
    returns, lengths = np.zeros(c.num_envs), np.zeros(c.num_envs, np.int64)
    mirror = agent._rollout_network
    mirror.refresh()
    end, vector_steps = agent.num_timesteps + total_steps, 0
    while agent.num_timesteps < end:
        actions = agent._act(obs, agent.epsilon, mirror)
        next_obs, rewards, terminated, truncated, infos = envs.step(actions)
        agent.num_timesteps += c.num_envs
        vector_steps += 1
        final_obs, done = np.array(next_obs, np.float32), terminated | truncated
        for i in np.flatnonzero(done):
            final_obs[i] = infos["final_obs"][i]
        for transition in nstep.push(obs, actions, rewards, final_obs, terminated, truncated):
            agent.replay.add(*(np.asarray(part)[None] for part in transition))
        obs = next_obs
        returns += rewards
        lengths += 1
        for i in np.flatnonzero(done):
            agent.num_episodes += 1
            agent.history["episode_return"].append(float(returns[i]))
            agent.history["episode_length"].append(float(lengths[i]))
            returns[i], lengths[i] = 0.0, 0
        needed = max(c.batch_size, min(c.learning_starts, c.buffer_size))
        ready = agent.num_timesteps >= c.learning_starts and len(agent.replay) >= needed
        if ready and vector_steps % c.train_freq == 0:
            for _ in range(c.gradient_steps):
                agent._gradient_step()
        if agent.num_timesteps % c.target_update_interval < c.num_envs:
            agent._sync_target(tf.constant(c.tau, tf.float32))
    envs.close()


def _assert_identical(a: DQNAgent, b: DQNAgent) -> None:
    assert (a.num_timesteps, a.num_updates, a.num_episodes) == (
        b.num_timesteps,
        b.num_updates,
        b.num_episodes,
    )
    assert a.history == b.history
    moments = zip(a.optimizer.variables, b.optimizer.variables, strict=True)
    optimizer = [(mine.numpy(), theirs.numpy()) for mine, theirs in moments]
    pairs = [
        *zip(a.q_network.get_weights(), b.q_network.get_weights(), strict=True),
        *zip(a.target_network.get_weights(), b.target_network.get_weights(), strict=True),
        *optimizer,
    ]
    for mine, theirs in pairs:
        np.testing.assert_array_equal(mine, theirs)
    state_a, state_b = a.replay.state_dict(), b.replay.state_dict()
    for key in state_a:
        np.testing.assert_array_equal(state_a[key], state_b[key])


def test_learn_trains_bit_for_bit_like_the_plain_loop():
    split, plain = DQNAgent(**SCHEDULE), DQNAgent(**SCHEDULE)
    split.learn(400, progress_bar=False, log_every=0)
    plain_learn(plain, 400)
    assert split.num_updates > 300 and split.num_episodes > 10
    _assert_identical(split, plain)
    split.learn(50, log_every=0)  # a second call continues alike (with the progress bar on)
    plain_learn(plain, 50)
    _assert_identical(split, plain)


def test_progress_bar_is_on_by_default_and_off_on_request(capsys):
    agent = DQNAgent(**CORRIDOR_CONFIG)
    agent.learn(30)
    captured = capsys.readouterr()
    assert "Corridor-v0" in captured.err and "30/30" in captured.err
    assert captured.out == ""  # no summary lines through the bar by default
    agent.learn(30, progress_bar=False, log_every=20)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert [line.split(":")[0] for line in captured.out.splitlines()] == ["step 40", "step 60"]
    agent.learn(30, callbacks=[ProgressBar()], log_every=45)
    captured = capsys.readouterr()
    assert captured.err.count("30/30") == 1  # the caller's bar, not a second one
    assert captured.out.startswith("step 90: episodes")  # written above the bar
    assert agent.num_timesteps == 90


def test_learn_callbacks_adds_what_the_arguments_ask_for(tmp_path):
    stop = StopAfter(10)
    assert learn_callbacks([stop], progress_bar=False) == [stop]
    bar = ProgressBar()
    assert learn_callbacks([bar, stop]) == [bar, stop]
    built = learn_callbacks([stop], log_dir=tmp_path / "tb", checkpoint_dir=tmp_path / "ck")
    assert [type(c) for c in built] == [ProgressBar, TensorBoard, Checkpoint, StopAfter]
    assert built[2].path == tmp_path / "ck" / CHECKPOINT_FILE


def test_log_dir_and_checkpoint_dir_are_one_argument_away(tmp_path):
    # half-written saves left by killed runs: this checkpoint's, another file's, a young one
    (tmp_path / "ckpt").mkdir()
    stale, other, young = (
        tmp_path / "ckpt" / f".tmp-{tag}.keras" for tag in ("0b-agent", "0b-other", "1c-agent")
    )
    for leftover in (stale, other, young):
        leftover.write_bytes(b"half a file")
    for leftover in (stale, other):
        os.utime(leftover, (time.time() - 3700, time.time() - 3700))
    agent = DQNAgent(**CORRIDOR_CONFIG)
    agent.learn(
        150,
        progress_bar=False,
        log_dir=tmp_path / "tb",
        checkpoint_dir=tmp_path / "ckpt",
        checkpoint_every=100,
        log_every=0,
    )
    (events,) = (tmp_path / "tb").glob("events.out.tfevents.*")
    tags = set()
    for record in tf.data.TFRecordDataset(str(events)).as_numpy_iterator():
        event = tf.compat.v1.Event.FromString(record)
        tags.update(value.tag for value in event.summary.value)
    assert {"train/loss", "train/epsilon", "episode/return"} <= tags
    assert not stale.exists() and other.exists() and young.exists()
    resumed = DQNAgent.load(tmp_path / "ckpt" / CHECKPOINT_FILE)
    assert resumed.num_timesteps == 150 and resumed.num_updates == agent.num_updates
    eye = np.eye(8, dtype=np.float32)
    np.testing.assert_array_equal(resumed.q_values(eye), agent.q_values(eye))


def test_learn_rejects_a_non_positive_step_count():
    with pytest.raises(ValueError, match="total_steps"):
        DQNAgent(**CORRIDOR_CONFIG).learn(0)

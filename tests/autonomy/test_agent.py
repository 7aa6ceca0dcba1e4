"""DQNAgent behaviour: learning, acting, bad input, save/resume, export parity, evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from autonomy import DQNAgent, IdleAgent, RandomAgent, StopAfter, TensorBoard, make_env
from autonomy.env import grayscale_stack
from common.export import non_core_ops, read_warmup_requests
from tests.autonomy.corridor import CORRIDOR, CORRIDOR_CONFIG
from tests.conftest import run_fresh_tensorflow


def test_short_training_clearly_beats_random(corridor_agent):
    trained = corridor_agent.evaluate(episodes=5)
    random = RandomAgent(CORRIDOR, seed=0).evaluate(episodes=20)
    assert trained["mean_return"] > 0.8  # optimum is 0.88: straight to the goal in 7 steps
    assert trained["mean_length"] == pytest.approx(7.0)
    assert random["mean_return"] < 0.2
    assert corridor_agent.num_timesteps == 1500 and corridor_agent.num_updates > 1000


def test_act_accepts_single_and_batched_observations(corridor_agent):
    eye = np.eye(8, dtype=np.float32)
    assert isinstance(corridor_agent.act(eye[0]), int)
    actions = corridor_agent.act(eye[:-1])
    assert actions.shape == (7,) and np.all(actions == 1)  # RIGHT everywhere before the goal
    assert corridor_agent.q_values(eye).shape == (8, 4)


def test_bad_observations_raise_value_errors(corridor_agent):
    with pytest.raises(ValueError, match=r"shape \(5,\).*\(8,\)"):
        corridor_agent.act(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        corridor_agent.act(np.full(8, np.nan))
    with pytest.raises(ValueError, match="empty"):
        corridor_agent.act(np.zeros((0, 8)))


def test_bad_config_raises_value_errors():
    with pytest.raises(ValueError, match="unknown environment 'highway-v9'.*highway-fast-v0"):
        DQNAgent(env_name="highway-v9")
    with pytest.raises(ValueError, match="unknown option"):
        DQNAgent(env_name=CORRIDOR, learning_rat=1e-3)
    with pytest.raises(ValueError, match="gamma"):
        DQNAgent(env_name=CORRIDOR, gamma=1.5)


def test_save_load_round_trip_keeps_actions_and_counters(corridor_agent, tmp_path):
    path = corridor_agent.save(tmp_path / "agent.keras")
    loaded = DQNAgent.load(path)
    eye = np.eye(8, dtype=np.float32)
    np.testing.assert_allclose(loaded.q_values(eye), corridor_agent.q_values(eye), rtol=1e-5)
    np.testing.assert_allclose(
        loaded.target_network.get_weights()[0], corridor_agent.target_network.get_weights()[0]
    )
    assert loaded.num_timesteps == corridor_agent.num_timesteps
    assert loaded.config == corridor_agent.config
    with pytest.raises(ValueError, match=".keras"):
        corridor_agent.save(tmp_path / "agent.h5")
    (tmp_path / "junk.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="not a .keras file"):
        DQNAgent.load(tmp_path / "junk.keras")


def test_resume_continues_steps_epsilon_optimizer_and_buffer(tmp_path):
    config = dict(CORRIDOR_CONFIG, exploration_steps=1000, learning_starts=50)
    agent = DQNAgent(**config)
    agent.learn(10_000, callbacks=[StopAfter(300)], log_every=0)  # "interrupted" at step 300
    assert agent.num_timesteps == 300
    iterations = int(agent.optimizer.iterations.numpy())
    assert iterations == agent.num_updates > 240  # one update per step once the buffer holds 50
    epsilon = agent.epsilon
    agent.save(tmp_path / "run.keras", include_buffer=True)

    resumed = DQNAgent.load(tmp_path / "run.keras")
    assert resumed.num_timesteps == 300 and resumed.epsilon == pytest.approx(epsilon)
    assert int(resumed.optimizer.iterations.numpy()) == iterations
    for mine, theirs in zip(resumed.optimizer.variables, agent.optimizer.variables, strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy())
    assert len(resumed.replay) == len(agent.replay) > 250
    resumed.learn(200, log_every=0)
    assert resumed.num_timesteps == 500
    assert int(resumed.optimizer.iterations.numpy()) == iterations + 200
    assert resumed.epsilon == pytest.approx(1.0 - 0.95 * 500 / 1000)


def test_export_answers_like_act_in_a_tensorflow_only_process(corridor_agent, tmp_path):
    version_dir = corridor_agent.export(tmp_path / "corridor")
    assert version_dir.name == "1" and non_core_ops(version_dir) == []
    assert read_warmup_requests(version_dir)[0]["observation"].shape == (1, 8)
    rng = np.random.default_rng(0)
    observations = np.concatenate([np.eye(8), rng.random((8, 8))]).astype(np.float32)
    np.save(tmp_path / "obs.npy", observations)
    out = run_fresh_tensorflow(f"""
        import numpy as np
        model = tf.saved_model.load({str(version_dir)!r})
        result = model.signatures["serving_default"](
            observation=tf.constant(np.load({str(tmp_path / "obs.npy")!r})))
        print(result["action"].dtype.name)
        print(" ".join(str(a) for a in result["action"].numpy()))
        np.save({str(tmp_path / "q.npy")!r}, result["q_values"].numpy())
    """)
    dtype, actions = out.strip().splitlines()
    assert dtype == "int64"
    np.testing.assert_array_equal(
        [int(a) for a in actions.split()], corridor_agent.act(observations)
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "q.npy"), corridor_agent.q_values(observations), rtol=1e-4, atol=1e-5
    )


def test_tensorboard_logs_and_prioritised_replay_learn(tmp_path):
    agent = DQNAgent(
        **dict(CORRIDOR_CONFIG, prioritized=True, dueling=False, double=False, tau=0.5)
    )
    agent.learn(300, callbacks=[TensorBoard(tmp_path / "tb", every=50)], log_every=0)
    (events,) = (tmp_path / "tb").glob("events.out.tfevents.*")
    import tensorflow as tf

    tags, plugins = set(), set()
    for record in tf.data.TFRecordDataset(str(events)).as_numpy_iterator():
        event = tf.compat.v1.Event.FromString(record)
        tags.update(value.tag for value in event.summary.value)
        plugins.update(value.metadata.plugin_data.plugin_name for value in event.summary.value)
    assert {"train/loss", "train/epsilon", "episode/return", "episode/length"} <= tags
    assert plugins == {"scalars"}  # tf.summary.scalar: TensorBoard's Scalars tab shows them
    assert agent.replay.max_priority > 1e-3 and agent.replay.beta > 0.4


def test_record_writes_a_gif(corridor_agent, tmp_path):
    from PIL import Image

    summary = corridor_agent.record(tmp_path / "episode.gif")
    assert summary["frames"] == 8 and summary["return"] == pytest.approx(0.88)
    with Image.open(tmp_path / "episode.gif") as gif:
        assert gif.n_frames == 8
    with pytest.raises(ValueError, match="gif"):
        corridor_agent.record(tmp_path / "episode.avi")


def test_highway_agent_and_baselines_report_driving_metrics(tmp_path):
    agent = DQNAgent(env_name="highway-fast-v0", hidden_units=[16])
    obs, _ = make_env("highway-fast-v0").reset(seed=0)
    assert agent.act(obs.reshape(5, 5)) == agent.act(obs)  # raw Kinematics shape accepted
    report = agent.evaluate(episodes=1)
    assert set(report) == {
        "episodes",
        "mean_return",
        "std_return",
        "crash_rate",
        "mean_speed",
        "mean_length",
    }
    idle = IdleAgent("highway-fast-v0")
    assert idle.act(obs) == 1  # IDLE
    idle_report = idle.evaluate(episodes=2)
    assert 20.0 <= idle_report["mean_speed"] <= 30.0 and idle_report["mean_length"] >= 1
    summary = idle.record(tmp_path / "idle.gif", max_steps=3)
    assert summary["frames"] >= 2
    from PIL import Image

    with Image.open(tmp_path / "idle.gif") as gif:
        frame = np.asarray(gif.convert("RGB"))
    # a drawn road (not a black frame) above the 40 px information strip
    assert frame.shape == (190, 600, 3) and frame[:150].std() > 5


def test_grayscale_observations_get_a_cnn_q_network():
    import keras

    config = grayscale_stack(64, 32)
    agent = DQNAgent(env_name="highway-fast-v0", env_config=config, hidden_units=[16])
    assert agent.obs_shape == (32, 64, 2)
    assert any(isinstance(layer, keras.layers.Conv2D) for layer in agent.q_network.layers)
    obs, _ = make_env("highway-fast-v0", **config).reset(seed=0)
    assert 0 <= agent.act(obs) < 5 and agent.act(np.stack([obs, obs])).shape == (2,)
    with pytest.raises(ValueError, match="shape"):
        agent.act(np.transpose(obs))


def test_worker_processes_train_overlapped_and_stop_cleanly_from_a_callback():
    # AsyncVectorEnv path: the next step is dispatched before the update; an early stop must
    # collect that in-flight step (no hang, no lost count) and a later learn continues from it
    agent = DQNAgent(
        env_name="highway-fast-v0",
        num_envs=2,
        hidden_units=[16],
        learning_starts=10,
        batch_size=8,
        exploration_steps=20,
        seed=3,
    )
    agent.learn(200, callbacks=[StopAfter(40)], log_every=0)
    assert agent.num_timesteps == 40 and 0 < agent.num_updates < 20  # at most one per vector step
    assert len(agent.replay) > 0 and agent.train_steps_per_second > 0
    updates = agent.num_updates
    agent.learn(10, log_every=0)
    assert (
        agent.num_timesteps == 50 and agent.num_updates == updates + 5
    )  # replay ready: every step

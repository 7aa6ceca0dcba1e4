"""``DQNAgent``: Double / dueling / n-step DQN with optional prioritised replay, in Keras + TF.

Reads like CleanRL's single file: collect with epsilon-greedy actions from (vectorised) envs,
store n-step transitions in a NumPy ring buffer, and run a compiled ``tf.function`` update with
Huber loss, global-norm gradient clipping and a hard or Polyak target network.

    agent = DQNAgent(env_name="highway-fast-v0")
    agent.learn(20_000, callbacks=[ProgressBar()])
    agent.evaluate(episodes=10)      # mean/std return, crash rate, mean speed, episode length
    agent.save("agent.keras"); DQNAgent.load("agent.keras").learn(5_000)   # resumes counters
    agent.export("models/highway")   # SavedModel: observation -> q_values, action
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from autonomy.callbacks import AgentCallback
from autonomy.env import DEFAULT_ENV, check_env_name, make_env, make_vector_env
from autonomy.evaluation import evaluate_policy, record_episode
from autonomy.numpy_q import NumpyQNetwork
from autonomy.q_network import build_q_network
from autonomy.replay import NStepAccumulator, PrioritizedReplayBuffer, ReplayBuffer
from common import export as export_lib
from common.task import TaskConfig

AGENT_FILE = "dlsuite_agent.json"
TARGET_FILE = "target_weights.npz"


@dataclasses.dataclass
class DQNConfig(TaskConfig):
    """Every DQNAgent option; defaults follow highway-env's SB3 DQN recipe plus the DQN extensions."""

    env_name: str = DEFAULT_ENV
    env_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    num_envs: int = 1  # > 1: AsyncVectorEnv worker processes
    hidden_units: list[int] = dataclasses.field(default_factory=lambda: [256, 256])
    dueling: bool = True
    double: bool = True
    n_step: int = 3
    prioritized: bool = False
    alpha: float = 0.6  # prioritisation exponent
    beta_start: float = 0.4  # importance-sampling exponent, annealed to 1 over exploration...
    beta_steps: int = 20_000  # ...this many env steps
    buffer_size: int = 15_000
    batch_size: int = 32
    learning_rate: float = 5e-4
    gamma: float = 0.8
    learning_starts: int = 200
    train_freq: int = 1  # vector steps between updates
    gradient_steps: int = 1
    target_update_interval: int = 50  # env steps between target updates
    tau: float = 1.0  # 1.0 = hard copy, < 1 = Polyak averaging
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    exploration_steps: int = 2_000
    max_grad_norm: float = 10.0
    seed: int = 0

    def validate(self) -> None:
        check_env_name(self.env_name)
        positive = (
            "num_envs",
            "n_step",
            "buffer_size",
            "batch_size",
            "train_freq",
            "gradient_steps",
            "target_update_interval",
        )
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("gamma", "tau", "epsilon_start", "epsilon_end", "beta_start"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.tau == 0.0:
            raise ValueError("tau must be > 0 (0 would freeze the target network)")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ValueError("learning_rate and max_grad_norm must be > 0")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ValueError(f"hidden_units must be positive widths, got {self.hidden_units!r}")
        if self.learning_starts < 0 or self.exploration_steps < 0:
            raise ValueError("learning_starts and exploration_steps must be >= 0")


def td_targets(rewards, discounts, next_q_online, next_q_target, double: bool = True) -> tf.Tensor:
    """``r + discount * Q_target(s', a')``: ``a'`` from the online net (Double DQN) or target max."""
    next_q_target = tf.convert_to_tensor(next_q_target, tf.float32)
    if double:
        best = tf.argmax(next_q_online, axis=-1, output_type=tf.int32)
        next_value = tf.gather(next_q_target, best, axis=1, batch_dims=1)
    else:
        next_value = tf.reduce_max(next_q_target, axis=-1)
    return tf.cast(rewards, tf.float32) + tf.cast(discounts, tf.float32) * next_value


def huber(errors: tf.Tensor, delta: float = 1.0) -> tf.Tensor:
    """Elementwise Huber loss: quadratic below ``delta``, linear above (robust TD regression)."""
    absolute = tf.abs(errors)
    quadratic = tf.minimum(absolute, delta)
    return 0.5 * tf.square(quadratic) + delta * (absolute - quadratic)


def linear_epsilon(step: int, start: float, end: float, steps: int) -> float:
    """Epsilon decayed linearly from ``start`` to ``end`` over ``steps`` env steps, then flat."""
    if steps <= 0:
        return float(end)
    fraction = min(1.0, max(0, step) / steps)
    return float(start + fraction * (end - start))


class DQNAgent:
    """A DQN agent for discrete-action envs: flat observations (highway-env Kinematics) get an
    MLP Q-network, grayscale image stacks ``(H, W, stack)`` a Nature-DQN CNN."""

    config_class = DQNConfig

    def __init__(self, **options: Any) -> None:
        self.config: DQNConfig = DQNConfig.from_dict(options)
        probe = make_env(self.config.env_name, **self.config.env_config)
        self.obs_shape = tuple(int(d) for d in probe.observation_space.shape)
        raw_shape = tuple(int(d) for d in probe.unwrapped.observation_space.shape)
        # raw (unflattened) observations are accepted for flat inputs; images must be (H, W, C)
        self.raw_obs_shape = raw_shape if len(self.obs_shape) == 1 else self.obs_shape
        self.num_actions = int(probe.action_space.n)
        probe.close()
        keras.utils.set_random_seed(self.config.seed)
        self.q_network = self._build_network("q_network")
        self.target_network = self._build_network("target_network")
        self.target_network.set_weights(self.q_network.get_weights())
        self.optimizer = keras.optimizers.Adam(
            self.config.learning_rate, global_clipnorm=self.config.max_grad_norm
        )
        self.q_network.compile(optimizer=self.optimizer)  # so .keras files carry optimizer state
        self.optimizer.build(self.q_network.trainable_variables)
        self.num_timesteps = 0
        self.num_updates = 0
        self.num_episodes = 0
        self.rng = np.random.default_rng(self.config.seed)
        self.replay = self._make_replay()
        self.history: dict[str, list[float]] = {"episode_return": [], "episode_length": []}
        self._compile_functions()

    # ------------------------------------------------------------------ networks and updates
    def _build_network(self, name: str) -> keras.Model:
        return build_q_network(
            self.obs_shape,
            self.num_actions,
            self.config.hidden_units,
            self.config.dueling,
            name=name,
        )

    def _make_replay(self) -> ReplayBuffer:
        c = self.config
        if c.prioritized:
            return PrioritizedReplayBuffer(c.buffer_size, self.obs_shape, c.alpha, seed=c.seed)
        return ReplayBuffer(c.buffer_size, self.obs_shape, seed=c.seed)

    def _compile_functions(self) -> None:
        """Trace acting and the update once, as concrete functions: calling those skips
        ``tf.function``'s per-call signature matching (0.7 ms of a 1.9 ms update on 2 cores).

        For MLP Q-networks, ``learn`` acts on a NumPy mirror of the online network instead
        (``NumpyQNetwork``: TF dispatch is ~1.5 ms of the critical path per vector step); the
        train step then also returns the updated weights, which refresh the mirror.
        """
        observations = tf.TensorSpec([None, *self.obs_shape], tf.float32)
        per_sample = tf.TensorSpec([None], tf.float32)
        self._q_values = tf.function(
            lambda obs: self.q_network(obs, training=False)
        ).get_concrete_function(observations)
        self._rollout_network = NumpyQNetwork.from_network(self.q_network)
        mirrored = self._rollout_network.variables if self._rollout_network is not None else []

        def update(obs, actions, rewards, next_obs, discounts, weights):
            loss, errors = self._update(obs, actions, rewards, next_obs, discounts, weights)
            # read after apply_gradients (automatic control dependencies order the reads)
            return loss, errors, [tf.identity(variable.value) for variable in mirrored]

        self._train_step = tf.function(update).get_concrete_function(
            observations,
            tf.TensorSpec([None], tf.int32),
            per_sample,
            observations,
            per_sample,
            per_sample,
        )
        self._sync_target = tf.function(self._polyak)

    def _update(self, obs, actions, rewards, next_obs, discounts, weights):
        """One gradient step on a batch; returns the loss and the per-sample TD errors."""
        next_q_online = self.q_network(next_obs, training=False)
        next_q_target = self.target_network(next_obs, training=False)
        targets = tf.stop_gradient(
            td_targets(rewards, discounts, next_q_online, next_q_target, self.config.double)
        )
        with tf.GradientTape() as tape:
            q_values = self.q_network(obs, training=True)
            chosen = tf.gather(q_values, actions, axis=1, batch_dims=1)
            errors = targets - chosen
            loss = tf.reduce_mean(weights * huber(errors))
        variables = self.q_network.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss, errors

    def _polyak(self, tau):
        for target, online in zip(self.target_network.weights, self.q_network.weights, strict=True):
            target.assign(tau * online + (1.0 - tau) * target)

    @property
    def epsilon(self) -> float:
        c = self.config
        return linear_epsilon(
            self.num_timesteps, c.epsilon_start, c.epsilon_end, c.exploration_steps
        )

    # ------------------------------------------------------------------ acting
    def _check_observations(self, observation: Any) -> tuple[np.ndarray, bool]:
        """Observations as a float32 batch ``[N, *obs_shape]``; raw Kinematics shapes are accepted."""
        array = np.asarray(observation, dtype=np.float32)
        shapes = {self.obs_shape, self.raw_obs_shape}
        if array.shape in shapes:
            batch, single = array.reshape(1, *self.obs_shape), True
        elif array.ndim >= 2 and array.shape[1:] in shapes:
            batch, single = array.reshape(len(array), *self.obs_shape), False
        else:
            raise ValueError(
                f"observation has shape {array.shape}; {self.config.env_name} observations have "
                f"shape {self.obs_shape} (or {self.raw_obs_shape}), optionally with a batch axis"
            )
        if batch.shape[0] == 0:
            raise ValueError("act needs at least one observation, got an empty batch")
        if not np.all(np.isfinite(batch)):
            raise ValueError("observation contains NaN or infinite values")
        return batch, single

    def _tf_q_values(self, batch: np.ndarray) -> np.ndarray:
        """Q-values ``[N, A]`` of a checked float32 batch through the traced TF function."""
        return self._q_values(tf.constant(batch)).numpy()

    def q_values(self, observation: Any) -> np.ndarray:
        """Q-values of every action for one observation ``[A]`` or a batch ``[N, A]``."""
        batch, single = self._check_observations(observation)
        values = self._tf_q_values(batch)
        return values[0] if single else values

    def act(self, observation: Any, epsilon: float = 0.0) -> int | np.ndarray:
        """Greedy action (or epsilon-greedy with ``epsilon`` > 0) for one observation or a batch."""
        return self._act(observation, epsilon, self._tf_q_values)

    def _act(
        self, observation: Any, epsilon: float, q_values: Callable[[np.ndarray], np.ndarray]
    ) -> int | np.ndarray:
        """``act`` with the Q-values of the checked float32 batch computed by ``q_values``."""
        batch, single = self._check_observations(observation)
        actions = np.argmax(q_values(batch), axis=-1)
        if epsilon > 0:
            explore = self.rng.random(len(actions)) < epsilon
            actions = np.where(
                explore, self.rng.integers(0, self.num_actions, len(actions)), actions
            )
        return int(actions[0]) if single else actions.astype(np.int64)

    # ------------------------------------------------------------------ learning
    def learn(
        self, total_steps: int, callbacks: Sequence[AgentCallback] = (), log_every: int = 1000
    ) -> dict[str, list[float]]:
        """Collect ``total_steps`` more env steps (counted over all envs) and train as it goes.

        Counters, epsilon, optimizer moments and the replay buffer continue from where a previous
        ``learn`` (or a loaded checkpoint) stopped. A callback's ``on_step`` returning ``False``
        stops early. ``log_every`` prints a one-line summary that often (0 = silent).
        """
        c = self.config
        if int(total_steps) < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps!r}")
        end = self.num_timesteps + int(total_steps)
        envs = make_vector_env(c.env_name, c.num_envs, **c.env_config)
        nstep = NStepAccumulator(c.n_step, c.gamma, c.num_envs)
        seed = c.seed + 1000 * self.num_episodes + self.num_timesteps
        obs, _ = envs.reset(seed=[seed + i for i in range(c.num_envs)])
        overlap = isinstance(envs, gym.vector.AsyncVectorEnv)
        episode_return = np.zeros(c.num_envs)
        episode_length = np.zeros(c.num_envs, np.int64)
        recent = deque(maxlen=20)
        losses = deque(maxlen=100)
        started, start_steps, vector_steps = time.perf_counter(), self.num_timesteps, 0
        for callback in callbacks:
            callback.on_learn_begin(self, int(total_steps))
        # act on the NumPy mirror of an MLP Q-network (TF dispatch would be on the critical
        # path); weights may have been set since its last refresh (load, set_weights, callbacks)
        rollout_q_values = self._tf_q_values
        if self._rollout_network is not None:
            self._rollout_network.refresh()
            rollout_q_values = self._rollout_network
        pending = False  # a step dispatched to the worker processes and not yet collected
        try:
            if overlap:
                actions = self._act(obs, self.epsilon, rollout_q_values)
                envs.step_async(actions)
                pending = True
            while self.num_timesteps < end:
                if overlap:
                    pending = False  # collected below (or failed: nothing left to collect)
                    next_obs, rewards, terminated, truncated, infos = envs.step_wait()
                else:
                    actions = self._act(obs, self.epsilon, rollout_q_values)
                    next_obs, rewards, terminated, truncated, infos = envs.step(actions)
                self.num_timesteps += c.num_envs
                vector_steps += 1
                next_actions = None
                if overlap and self.num_timesteps < end:
                    # the workers simulate the next step while this process stores the
                    # transition and runs the gradient step: only acting is on the critical path
                    next_actions = self._act(next_obs, self.epsilon, rollout_q_values)
                    envs.step_async(next_actions)
                    pending = True
                final_obs = np.array(next_obs, np.float32)
                done = np.logical_or(terminated, truncated)
                for i in np.flatnonzero(done):
                    final_obs[i] = infos["final_obs"][i]
                for transition in nstep.push(
                    obs, actions, rewards, final_obs, terminated, truncated
                ):
                    self.replay.add(*(np.asarray(part)[None] for part in transition))
                obs, actions = next_obs, next_actions
                episode_return += rewards
                episode_length += 1
                for i in np.flatnonzero(done):
                    crashed = infos.get("final_info", {}).get("crashed")
                    logs = {
                        "return": float(episode_return[i]),
                        "length": float(episode_length[i]),
                        "crashed": float(bool(crashed[i])) if crashed is not None else 0.0,
                    }
                    self.num_episodes += 1
                    recent.append(logs["return"])
                    self.history["episode_return"].append(logs["return"])
                    self.history["episode_length"].append(logs["length"])
                    episode_return[i], episode_length[i] = 0.0, 0
                    for callback in callbacks:
                        callback.on_episode_end(self, logs)
                self._train_if_due(vector_steps, losses)
                if self.num_timesteps % c.target_update_interval < c.num_envs:
                    self._sync_target(tf.constant(c.tau, tf.float32))
                log_now = bool(log_every) and self.num_timesteps % log_every < c.num_envs
                if not (callbacks or log_now):
                    continue
                elapsed = time.perf_counter() - started
                logs = {
                    "epsilon": self.epsilon,
                    "loss": float(np.mean(losses)) if losses else float("nan"),
                    "mean_return": float(np.mean(recent)) if recent else float("nan"),
                    "steps_per_second": (self.num_timesteps - start_steps) / max(elapsed, 1e-9),
                }
                if log_now:
                    print(
                        f"step {self.num_timesteps}: episodes {self.num_episodes}, "
                        f"mean return {logs['mean_return']:.2f}, epsilon {logs['epsilon']:.3f}, "
                        f"loss {logs['loss']:.4f}, {logs['steps_per_second']:.0f} steps/s",
                        flush=True,
                    )
                if any(callback.on_step(self, logs) is False for callback in callbacks):
                    break
        finally:
            if pending:  # a callback stopped early: collect the dispatched step before closing
                envs.step_wait()
            envs.close()
            self.train_seconds = time.perf_counter() - started
            self.train_steps_per_second = (self.num_timesteps - start_steps) / max(
                self.train_seconds, 1e-9
            )
        for callback in callbacks:
            callback.on_learn_end(self)
        return self.history

    def _train_if_due(self, vector_steps: int, losses: deque) -> None:
        """``gradient_steps`` updates every ``train_freq`` vector steps once replay is ready.

        With worker processes this runs while they simulate the next step (already chosen by
        the network before this update), so it costs no wall time of its own.
        """
        if self._ready_to_train() and vector_steps % self.config.train_freq == 0:
            for _ in range(self.config.gradient_steps):
                losses.append(self._gradient_step())

    def _ready_to_train(self) -> bool:
        """Past ``learning_starts``, with enough replay (a resume without buffer refills first)."""
        c = self.config
        needed = max(c.batch_size, min(c.learning_starts, c.buffer_size))
        return self.num_timesteps >= c.learning_starts and len(self.replay) >= needed

    def _gradient_step(self) -> float:
        c = self.config
        if isinstance(self.replay, PrioritizedReplayBuffer):
            fraction = min(1.0, self.num_timesteps / max(1, c.beta_steps))
            self.replay.beta = c.beta_start + fraction * (1.0 - c.beta_start)
        batch = self.replay.sample(c.batch_size)
        loss, errors, weights = self._train_step(
            tf.constant(batch["obs"]),
            tf.constant(batch["action"], tf.int32),
            tf.constant(batch["reward"]),
            tf.constant(batch["next_obs"]),
            tf.constant(batch["discount"]),
            tf.constant(batch["weights"]),
        )
        if isinstance(self.replay, PrioritizedReplayBuffer):  # uniform replay ignores TD errors
            self.replay.update_priorities(batch["indices"], errors.numpy())
        if self._rollout_network is not None:
            self._rollout_network.refresh([w.numpy() for w in weights])
        self.num_updates += 1
        return float(loss)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, episodes: int = 10, seed: int = 10_000) -> dict[str, float]:
        """Greedy rollouts: mean/std return, crash rate, mean speed and mean episode length."""
        return evaluate_policy(
            self.act, self.config.env_name, self.config.env_config, episodes, seed
        )

    def record(
        self, path: str | os.PathLike, seed: int = 0, max_steps: int = 200
    ) -> dict[str, Any]:
        """Write a GIF (or MP4 with imageio) of one greedy episode, rendered headless."""
        return record_episode(
            self.act, path, self.config.env_name, self.config.env_config, seed, max_steps
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike, include_buffer: bool = False) -> Path:
        """One ``.keras`` file: Q-network + optimizer state, target weights, config and counters.

        With ``include_buffer`` the replay buffer goes to ``<path>.replay.npz`` beside it. Files
        are written to a temporary name and renamed into place, so a crash never corrupts them.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"agent files use the .keras extension, got {path.name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.keras")
        header = {
            "agent": "autonomy.DQNAgent",
            "format": 1,
            "config": self.config.to_dict(),
            "num_timesteps": self.num_timesteps,
            "num_updates": self.num_updates,
            "num_episodes": self.num_episodes,
            "epsilon": self.epsilon,
            "history": self.history,
        }
        try:
            self.q_network.save(staging)
            target = {f"w{i}": w for i, w in enumerate(self.target_network.get_weights())}
            with zipfile.ZipFile(staging, "a") as archive:
                archive.writestr(AGENT_FILE, json.dumps(header))
                with archive.open(TARGET_FILE, "w") as handle:
                    np.savez(handle, **target)
            if include_buffer:
                buffer_path = Path(f"{path}.replay.npz")
                buffer_staging = buffer_path.with_name(
                    f".{buffer_path.name}.{uuid.uuid4().hex[:8]}"
                )
                with open(buffer_staging, "wb") as handle:
                    np.savez(handle, **self.replay.state_dict())
                os.replace(buffer_staging, buffer_path)
            os.replace(staging, path)
        finally:
            staging.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, load_buffer: bool = True) -> DQNAgent:
        """Rebuild an agent saved with ``save``; training continues with ``learn``."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no such agent file: {path}")
        try:
            with zipfile.ZipFile(path) as archive:
                if AGENT_FILE not in archive.namelist():
                    raise ValueError(f"{path} is not a dlsuite DQN agent file (no {AGENT_FILE})")
                header = json.loads(archive.read(AGENT_FILE))
                with archive.open(TARGET_FILE) as handle:
                    target = np.load(handle)
                    target_weights = [target[f"w{i}"] for i in range(len(target.files))]
        except zipfile.BadZipFile as error:
            raise ValueError(f"{path} is not a .keras file (not a zip archive)") from error
        agent = cls(**header["config"])
        loaded = keras.saving.load_model(path, safe_mode=True)
        agent.q_network.set_weights(loaded.get_weights())
        for mine, theirs in zip(agent.optimizer.variables, loaded.optimizer.variables, strict=True):
            mine.assign(theirs)
        agent.target_network.set_weights(target_weights)
        agent.num_timesteps = int(header["num_timesteps"])
        agent.num_updates = int(header["num_updates"])
        agent.num_episodes = int(header["num_episodes"])
        agent.history = {k: list(v) for k, v in header.get("history", {}).items()}
        buffer_path = Path(f"{path}.replay.npz")
        if load_buffer and buffer_path.is_file():
            with np.load(buffer_path) as state:
                agent.replay.load_state_dict(dict(state))
        return agent

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, export_lib.Endpoint]:
        """``observation`` float32 ``[None, D]`` -> ``q_values`` ``[None, A]`` and greedy ``action``."""
        network = self.q_network

        def serve(observation):
            q_values = network(observation, training=False)
            return {
                "q_values": q_values,
                "action": tf.argmax(q_values, axis=-1, output_type=tf.int64),
            }

        spec = tf.TensorSpec([None, *self.obs_shape], tf.float32, name="observation")
        return {"serving_default": (serve, [spec])}

    def warmup_inputs(self) -> dict[str, Any]:
        return {"observation": np.zeros((1, *self.obs_shape), np.float32)}

    def export(self, base_dir: str | os.PathLike, version: int | None = None) -> Path:
        """Write the Q-network as a TF Serving SavedModel version under ``base_dir`` (atomic)."""
        return export_lib.export_saved_model(
            base_dir,
            self.q_network,
            self.serving_endpoints(),
            warmup_inputs=self.warmup_inputs(),
            version=version,
        )

    def __repr__(self) -> str:
        return f"DQNAgent(env_name={self.config.env_name!r}, steps={self.num_timesteps})"

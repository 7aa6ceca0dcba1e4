"""``DQNAgent``: Double / dueling / n-step DQN with optional prioritised replay, in Keras + TF.

Reads like CleanRL: collect with epsilon-greedy actions from (vectorised) envs, store n-step
transitions in a NumPy ring buffer, and run a compiled ``tf.function`` update with Huber loss,
global-norm gradient clipping and a hard or Polyak target network. What it shares with
``SACAgent`` (``learn``'s options, counters, save / load, export, evaluate / record) is in
``autonomy.agent_base``; its pieces of the ``learn`` loop are in ``autonomy.dqn_learning``.

    agent = DQNAgent(env_name="highway-fast-v0")
    agent.learn(20_000, log_dir="runs/dqn", checkpoint_dir="runs/dqn")  # + a progress bar
    agent.evaluate(episodes=10)      # mean/std return, crash rate, mean speed, episode length
    agent.save("agent.keras"); DQNAgent.load("agent.keras").learn(5_000)   # resumes counters
    common.task.load_task("agent.keras")   # agent files carry the task header too
    agent.export("models/highway")   # SavedModel: observation -> q_values, action
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import keras
import numpy as np
import tensorflow as tf

from autonomy.agent_base import OffPolicyAgent, check_batch
from autonomy.config import DQNConfig
from autonomy.dqn_learning import Rollout, TrainingSchedule
from autonomy.env import discrete_actions, make_env, space_shape
from autonomy.numpy_q import NumpyQNetwork
from autonomy.q_network import build_q_network
from autonomy.replay import PrioritizedReplayBuffer, ReplayBuffer
from common import export as export_lib


def td_targets(rewards, discounts, next_q_online, next_q_target, double: bool = True) -> tf.Tensor:
    """``r + discount * Q_target(s', a')``; ``a'`` is the online (Double DQN) or target argmax."""
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


class DQNAgent(OffPolicyAgent):
    """A DQN agent for discrete-action envs: flat observations (highway-env Kinematics) get an
    MLP Q-network, grayscale image stacks ``(H, W, stack)`` a Nature-DQN CNN."""

    config: DQNConfig
    config_class = DQNConfig
    rollout_class = Rollout
    schedule_class = TrainingSchedule

    def __init__(self, **options: Any) -> None:
        self.config = cast(DQNConfig, DQNConfig.from_dict(options))
        probe = make_env(self.config.env_name, **self.config.env_config)
        self.obs_shape = space_shape(probe.observation_space)
        raw_shape = space_shape(probe.unwrapped.observation_space)
        # raw (unflattened) observations are accepted for flat inputs; images must be (H, W, C)
        self.raw_obs_shape = raw_shape if len(self.obs_shape) == 1 else self.obs_shape
        self.num_actions = discrete_actions(probe)
        probe.close()
        if self.config.encoder == "ego_attention" and len(self.raw_obs_shape) != 2:
            raise ValueError(
                f"encoder='ego_attention' needs (vehicles, features) observations such as "
                f"highway-env Kinematics; {self.config.env_name} gives {self.raw_obs_shape}"
            )
        keras.utils.set_random_seed(self.config.seed)
        self.q_network = self._build_network("q_network")
        self.target_network = self._build_network("target_network")
        self.target_network.set_weights(self.q_network.get_weights())
        self.optimizer = keras.optimizers.Adam(
            self.config.learning_rate, global_clipnorm=self.config.max_grad_norm
        )
        self.q_network.compile(optimizer=self.optimizer)  # so .keras files carry optimizer state
        self.optimizer.build(self.q_network.trainable_variables)
        self._init_counters()
        self.replay = self._make_replay()
        self._compile_functions()

    # ------------------------------------------------------------------ networks and updates
    def _build_network(self, name: str) -> keras.Model:
        return build_q_network(
            self.obs_shape,
            self.num_actions,
            self.config.hidden_units,
            self.config.dueling,
            name=name,
            vehicles_shape=self.raw_obs_shape if self.config.encoder == "ego_attention" else None,
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

    def exploration_logs(self) -> dict[str, float]:
        """What ``learn``'s logs report about exploration: the current epsilon."""
        return {"epsilon": self.epsilon}

    # ------------------------------------------------------------------ acting
    def _check_observations(self, observation: Any) -> tuple[np.ndarray, bool]:
        """Observations as a float32 batch ``[N, *obs_shape]``; raw Kinematics shapes accepted."""
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
        return check_batch(batch), single

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
    def _gradient_step(self) -> float:
        """One update of the online network on a replay batch (priorities updated, mirror too)."""
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

    # ------------------------------------------------------------------ persistence
    def _file_model(self) -> keras.Model:
        """The Q-network, compiled, so the file carries the optimizer state too."""
        return self.q_network

    def _file_arrays(self) -> list[np.ndarray]:
        """The target network's weights."""
        return self.target_network.get_weights()

    def _restore_file(self, loaded: keras.Model, arrays: list[np.ndarray], path: Path) -> None:
        """Q-network weights and optimizer moments from ``loaded``; target weights: ``arrays``."""
        self.q_network.set_weights(loaded.get_weights())
        for mine, theirs in zip(self.optimizer.variables, loaded.optimizer.variables, strict=True):
            mine.assign(theirs)
        self.target_network.set_weights(arrays)

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, export_lib.Endpoint]:
        """``observation`` float32 ``[None, D]`` -> ``q_values`` ``[None, A]`` and ``action``."""
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

    def _served_model(self) -> keras.Model:
        return self.q_network

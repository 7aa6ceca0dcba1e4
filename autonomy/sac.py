"""``SACAgent``: soft actor-critic for continuous control, with hindsight replay for goal envs.

Twin critics with Polyak-averaged targets, a tanh-squashed Gaussian policy, an entropy
temperature tuned towards ``-action_dim`` (the losses are in ``autonomy.sac_losses``), uniform
replay from ``autonomy.replay`` and HER (``autonomy.her``) on goal-conditioned envs such as
``parking-v0``. The API is ``DQNAgent``'s (both are ``autonomy.agent_base.OffPolicyAgent``s):

    agent = SACAgent(env_name="parking-v0")           # HER on: the env is goal-conditioned
    agent.learn(20_000, checkpoint_dir="runs/sac")    # + a progress bar
    agent.evaluate(episodes=10)                       # return, success rate, crash rate, ...
    agent.act({"observation": o, "desired_goal": g})  # deterministic action in env units
    agent.save("sac.keras"); SACAgent.load("sac.keras").learn(5_000)
    agent.export("models/parking")  # SavedModel: observation (+ desired_goal) -> action
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import keras
import numpy as np
import tensorflow as tf

from autonomy.agent_base import OffPolicyAgent, check_batch
from autonomy.control_env import GOAL_KEYS, action_bounds, is_goal_space, make_control_env
from autonomy.learning import UpdateSchedule
from autonomy.replay import ReplayBuffer
from autonomy.sac_config import SACConfig
from autonomy.sac_learning import ControlRollout
from autonomy.sac_losses import (
    actor_loss,
    critic_loss,
    critic_targets,
    sample_action,
    split_policy_output,
    temperature_loss,
)
from autonomy.sac_networks import NumpyActor, build_actor, build_agent_model, build_twin_critic
from common import export as export_lib


class SACAgent(OffPolicyAgent):
    """A SAC agent for ``Box``-action envs; goal-dict observations feed the networks as
    ``observation ++ desired_goal``."""

    config: SACConfig
    config_class = SACConfig
    make_rollout_env = staticmethod(make_control_env)
    rollout_class = ControlRollout
    schedule_class = UpdateSchedule

    def __init__(self, **options: Any) -> None:
        self.config = cast(SACConfig, SACConfig.from_dict(options))
        c = self.config
        probe = make_control_env(c.env_name, **c.env_config)
        space = probe.observation_space
        self.goal_conditioned = is_goal_space(space)
        if self.goal_conditioned:
            parts = cast(Any, space).spaces
            self.part_dims = {key: int(parts[key].shape[0]) for key in GOAL_KEYS}
            self.obs_dim = self.part_dims["observation"] + self.part_dims["desired_goal"]
            self.compute_reward = probe.unwrapped.compute_reward  # type: ignore[attr-defined]
        else:
            self.part_dims = {}
            self.obs_dim = int(cast(Any, space).shape[0])
        self.action_low, self.action_high = action_bounds(probe)
        self.action_dim = len(self.action_low)
        probe.close()
        if c.her and not self.goal_conditioned:
            raise ValueError(f"her=True needs a goal-conditioned env; {c.env_name} is not one")
        self.use_her = self.goal_conditioned if c.her is None else bool(c.her)
        self.target_entropy = (
            -float(self.action_dim) if c.target_entropy is None else float(c.target_entropy)
        )
        keras.utils.set_random_seed(c.seed)
        self.actor = build_actor(self.obs_dim, self.action_dim, c.hidden_units)
        self.critic = build_twin_critic(self.obs_dim, self.action_dim, c.hidden_units)
        self.critic_target = build_twin_critic(
            self.obs_dim, self.action_dim, c.hidden_units, name="critic_target"
        )
        self.critic_target.set_weights(self.critic.get_weights())
        self.model = build_agent_model(self.actor, self.critic)
        self.log_alpha = keras.Variable(np.log(c.initial_alpha), dtype="float32", name="log_alpha")
        self.optimizers = {
            "actor": keras.optimizers.Adam(c.learning_rate),
            "critic": keras.optimizers.Adam(c.learning_rate),
            "alpha": keras.optimizers.Adam(c.learning_rate),
        }
        self.optimizers["actor"].build(self.actor.trainable_variables)
        self.optimizers["critic"].build(self.critic.trainable_variables)
        self.optimizers["alpha"].build([self.log_alpha])
        self._init_counters()
        self.noise = tf.random.Generator.from_seed(c.seed)
        self.replay = ReplayBuffer(
            c.buffer_size, (self.obs_dim,), c.seed, (self.action_dim,), np.float32
        )
        self._rollout_actor = NumpyActor(self.actor)
        self._compile_functions()

    # ------------------------------------------------------------------ updates
    def _compile_functions(self) -> None:
        """Trace the deterministic policy and the update once, as concrete functions."""
        observations = tf.TensorSpec([None, self.obs_dim], tf.float32)
        per_sample = tf.TensorSpec([None], tf.float32)
        self._deterministic = tf.function(self._deterministic_action).get_concrete_function(
            observations
        )

        def update(obs, actions, rewards, next_obs, discounts):
            losses = self._update(obs, actions, rewards, next_obs, discounts)
            weights = [tf.identity(v.value) for v in self._rollout_actor.variables]
            return losses, weights

        self._train_step = tf.function(update).get_concrete_function(
            observations,
            tf.TensorSpec([None, self.action_dim], tf.float32),
            per_sample,
            observations,
            per_sample,
        )

    def _deterministic_action(self, observation: tf.Tensor) -> tf.Tensor:
        """``tanh(mean)`` scaled to the env's action bounds (what ``act`` and exports return)."""
        mean, _ = split_policy_output(self.actor(observation, training=False))
        return self._scale(tf.tanh(mean))

    def _scale(self, normalised):
        low, high = tf.constant(self.action_low), tf.constant(self.action_high)
        return low + (normalised + 1.0) * 0.5 * (high - low)

    def _policy_sample(self, obs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        mean, log_std = split_policy_output(self.actor(obs, training=True))
        return sample_action(mean, log_std, self.noise.normal(tf.shape(mean)))

    def _update(self, obs, actions, rewards, next_obs, discounts):
        """One SAC step: critics, then policy and temperature, then the Polyak targets."""
        alpha = tf.exp(self.log_alpha.value)
        next_actions, next_log_prob = self._policy_sample(next_obs)
        next_q = self.critic_target([next_obs, next_actions], training=False)
        targets = tf.stop_gradient(
            critic_targets(rewards, discounts, next_q[:, 0], next_q[:, 1], next_log_prob, alpha)
        )
        with tf.GradientTape() as tape:
            q = self.critic([obs, actions], training=True)
            c_loss = critic_loss(q[:, 0], q[:, 1], targets)
        variables = self.critic.trainable_variables
        self.optimizers["critic"].apply_gradients(
            zip(tape.gradient(c_loss, variables), variables, strict=True)
        )
        with tf.GradientTape() as tape:
            new_actions, log_prob = self._policy_sample(obs)
            q_new = self.critic([obs, new_actions], training=False)
            a_loss = actor_loss(log_prob, q_new[:, 0], q_new[:, 1], alpha)
        variables = self.actor.trainable_variables
        self.optimizers["actor"].apply_gradients(
            zip(tape.gradient(a_loss, variables), variables, strict=True)
        )
        t_loss = tf.constant(0.0)
        if self.config.auto_alpha:
            with tf.GradientTape() as tape:
                t_loss = temperature_loss(self.log_alpha.value, log_prob, self.target_entropy)
            gradient = tape.gradient(t_loss, self.log_alpha.value)
            self.optimizers["alpha"].apply_gradients([(gradient, self.log_alpha)])
        tau = self.config.tau
        for target, online in zip(self.critic_target.weights, self.critic.weights, strict=True):
            target.assign(tau * online + (1.0 - tau) * target)
        return tf.stack([c_loss, a_loss, t_loss])

    def _gradient_step(self) -> float:
        """One update on a replay batch; refreshes the NumPy policy; returns the critic loss."""
        batch = self.replay.sample(self.config.batch_size)
        losses, weights = self._train_step(
            tf.constant(batch["obs"]),
            tf.constant(batch["action"]),
            tf.constant(batch["reward"]),
            tf.constant(batch["next_obs"]),
            tf.constant(batch["discount"]),
        )
        self._rollout_actor.refresh([w.numpy() for w in weights])
        self.num_updates += 1
        return float(losses[0])

    @property
    def alpha(self) -> float:
        """The entropy temperature."""
        return float(np.exp(self.log_alpha.numpy()))

    def exploration_logs(self) -> dict[str, float]:
        """What ``learn``'s logs report about exploration: the temperature alpha."""
        return {"alpha": self.alpha}

    # ------------------------------------------------------------------ acting
    def _flatten(self, observation: Any) -> np.ndarray:
        """A float32 batch ``[N, obs_dim]`` (goal dicts as ``observation ++ desired_goal``)."""
        if isinstance(observation, Mapping):
            if not self.goal_conditioned:
                raise ValueError(
                    f"{self.config.env_name} observations are arrays of shape "
                    f"({self.obs_dim},), not dicts"
                )
            missing = [key for key in ("observation", "desired_goal") if key not in observation]
            if missing:
                raise ValueError(f"goal observation is missing {', '.join(missing)}")
            parts = [
                np.asarray(observation[k], np.float32) for k in ("observation", "desired_goal")
            ]
            for key, part in zip(("observation", "desired_goal"), parts, strict=True):
                if part.shape[-1:] != (self.part_dims[key],) or part.ndim > 2:
                    raise ValueError(
                        f"{key} has shape {part.shape}; {self.config.env_name} needs "
                        f"({self.part_dims[key]},), optionally with a batch axis"
                    )
            if parts[0].shape[:-1] != parts[1].shape[:-1]:
                raise ValueError("observation and desired_goal have different batch sizes")
            return np.concatenate([p.reshape(-1, p.shape[-1]) for p in parts], axis=-1)
        if (
            isinstance(observation, Sequence)
            and observation
            and isinstance(observation[0], Mapping)
        ):
            return np.concatenate([self._flatten(item) for item in observation])
        array = np.asarray(observation, np.float32)
        if array.shape[-1:] != (self.obs_dim,) or array.ndim > 2:
            goal = " (observation ++ desired_goal, or a dict of both)" if self.part_dims else ""
            raise ValueError(
                f"observation has shape {array.shape}; {self.config.env_name} observations "
                f"have shape ({self.obs_dim},){goal}, optionally with a batch axis"
            )
        return array.reshape(-1, self.obs_dim)

    def _check_observations(self, observation: Any) -> tuple[np.ndarray, bool]:
        """A checked float32 batch and whether ``observation`` was a single one."""
        batch = self._flatten(observation)
        if isinstance(observation, Mapping):
            single = np.ndim(observation["observation"]) == 1
        elif (
            isinstance(observation, Sequence)
            and observation
            and isinstance(observation[0], Mapping)
        ):
            single = False
        else:
            single = np.ndim(observation) == 1
        return check_batch(batch), single

    def act(self, observation: Any, deterministic: bool = True) -> np.ndarray:
        """Action(s) in env units for one observation ``[A]`` or a batch ``[N, A]``: the
        policy's mean (``deterministic``, what exports return) or a sample from it."""
        batch, single = self._check_observations(observation)
        if deterministic:
            actions = self._deterministic(tf.constant(batch)).numpy()
        else:
            self._rollout_actor.refresh()
            actions = self.scale_action(self._sample_normalised(batch))
        return actions[0] if single else actions

    def _sample_normalised(self, batch: np.ndarray) -> np.ndarray:
        """Actions in [-1, 1] sampled from the NumPy copy of the policy (used by ``learn``)."""
        outputs = self._rollout_actor(batch)
        mean, log_std = np.split(outputs, 2, axis=-1)
        log_std = np.clip(log_std, -20.0, 2.0)
        noise = self.rng.standard_normal(mean.shape).astype(np.float32)
        return np.tanh(mean + np.exp(log_std) * noise).astype(np.float32)

    def scale_action(self, normalised: np.ndarray) -> np.ndarray:
        """``[-1, 1]`` actions to the env's ``[low, high]``."""
        return self.action_low + (normalised + 1.0) * 0.5 * (self.action_high - self.action_low)

    # ------------------------------------------------------------------ persistence
    def _extra_variables(self) -> list[Any]:
        """What the agent file keeps beside the model: target critics, log alpha, and the
        three optimizers' state, in this fixed order."""
        return [
            *self.critic_target.weights,
            self.log_alpha,
            *self.optimizers["actor"].variables,
            *self.optimizers["critic"].variables,
            *self.optimizers["alpha"].variables,
        ]

    def _file_model(self) -> keras.Model:
        """Actor and twin critics as one model."""
        return self.model

    def _file_arrays(self) -> list[np.ndarray]:
        """``_extra_variables``' values."""
        return [np.asarray(v.numpy()) for v in self._extra_variables()]

    def _restore_file(self, loaded: keras.Model, arrays: list[np.ndarray], path: Path) -> None:
        """Actor and critic weights from ``loaded``, ``_extra_variables`` from ``arrays``."""
        self.model.set_weights(loaded.get_weights())
        variables = self._extra_variables()
        if len(variables) != len(arrays):
            raise ValueError(
                f"{path} is damaged: {len(arrays)} saved arrays, {len(variables)} needed"
            )
        for variable, value in zip(variables, arrays, strict=True):
            variable.assign(value)

    # ------------------------------------------------------------------ export
    def serving_endpoints(self) -> dict[str, export_lib.Endpoint]:
        """``observation`` (+ ``desired_goal`` for goal envs) float32 -> ``action`` in env
        units (the deterministic policy, as ``act``)."""
        policy = self._deterministic_action
        if not self.goal_conditioned:
            spec = tf.TensorSpec([None, self.obs_dim], tf.float32, name="observation")
            return {
                "serving_default": (lambda observation: {"action": policy(observation)}, [spec])
            }
        dims = self.part_dims

        def serve(observation, desired_goal):
            return {"action": policy(tf.concat([observation, desired_goal], axis=-1))}

        specs = [
            tf.TensorSpec([None, dims["observation"]], tf.float32, name="observation"),
            tf.TensorSpec([None, dims["desired_goal"]], tf.float32, name="desired_goal"),
        ]
        return {"serving_default": (serve, specs)}

    def warmup_inputs(self) -> dict[str, Any]:
        if not self.goal_conditioned:
            return {"observation": np.zeros((1, self.obs_dim), np.float32)}
        return {
            key: np.zeros((1, self.part_dims[key]), np.float32)
            for key in ("observation", "desired_goal")
        }

    def _served_model(self) -> keras.Model:
        return self.actor

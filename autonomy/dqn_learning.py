"""``DQNAgent``'s pieces of the ``learn`` loop (``autonomy.learning``): epsilon-greedy rollouts
storing n-step transitions, and a schedule that also syncs the target network."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import tensorflow as tf

from autonomy.env import make_vector_env
from autonomy.learning import UpdateSchedule, VectorRollout, VectorStep
from autonomy.replay import NStepAccumulator

if TYPE_CHECKING:
    from autonomy.dqn import DQNAgent


class Rollout(VectorRollout):
    """Steps the (vectorised) envs with epsilon-greedy actions and stores n-step transitions."""

    agent: DQNAgent

    def __init__(self, agent: DQNAgent, end: int) -> None:
        super().__init__(agent, end)
        c = agent.config
        self.nstep = NStepAccumulator(c.n_step, c.gamma, c.num_envs)
        self.q_values: Callable[[np.ndarray], np.ndarray] = agent._tf_q_values

    def _make_envs(self) -> Any:
        c = self.agent.config
        return make_vector_env(c.env_name, c.num_envs, **c.env_config)

    def start(self) -> None:
        """Pick the acting network and, with workers, dispatch the first step."""
        # act on the NumPy mirror of an MLP Q-network (TF dispatch would be on the critical
        # path); weights may have been set since its last refresh (load, set_weights, callbacks)
        mirror = self.agent._rollout_network
        if mirror is not None:
            mirror.refresh()
            self.q_values = mirror
        super().start()

    def _act(self, obs: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, self.agent._act(obs, self.agent.epsilon, self.q_values))

    def _store(self, step: VectorStep) -> None:
        """Push the step through the n-step accumulator; add the transitions it completes."""
        final_obs = np.array(step.next_obs, np.float32)
        for i in np.flatnonzero(step.done):
            final_obs[i] = step.infos["final_obs"][i]
        for transition in self.nstep.push(
            self.obs, self.actions, step.rewards, final_obs, step.terminated, step.truncated
        ):
            self.agent.replay.add(*(np.asarray(part)[None] for part in transition))


class TrainingSchedule(UpdateSchedule):
    """``UpdateSchedule`` (once replay holds ``learning_starts`` transitions) plus a
    target-network sync every ``target_update_interval`` env steps."""

    agent: DQNAgent

    def ready(self) -> bool:
        """Past ``learning_starts``, with enough replay (a resume without buffer refills first)."""
        c = self.agent.config
        needed = max(c.batch_size, min(c.learning_starts, c.buffer_size))
        return self.agent.num_timesteps >= c.learning_starts and len(self.agent.replay) >= needed

    def step(self) -> None:
        """Run the gradient steps and the target sync due after one vector step."""
        super().step()
        agent, c = self.agent, self.agent.config
        if agent.num_timesteps % c.target_update_interval < c.num_envs:
            agent._sync_target(tf.constant(c.tau, tf.float32))

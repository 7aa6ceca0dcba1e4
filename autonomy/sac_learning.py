"""``SACAgent``'s rollout for the ``learn`` loop (``autonomy.learning``): stochastic actions,
one-step transitions, and HER copies when a goal-conditioned episode ends.

Its schedule is the plain ``autonomy.learning.UpdateSchedule`` (the Polyak update of the target
critics is part of every gradient step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from autonomy.control_env import make_control_vector_env
from autonomy.her import Episode, relabel
from autonomy.learning import VectorRollout, VectorStep

if TYPE_CHECKING:
    from autonomy.sac import SACAgent


def _env_obs(obs: Any, index: int) -> Any:
    """Env ``index``'s observation out of a vector observation (a goal dict or an array)."""
    if isinstance(obs, dict):
        return {key: value[index] for key, value in obs.items()}
    return obs[index]


class ControlRollout(VectorRollout):
    """Steps the envs with sampled actions (uniform before ``learning_starts``, as SB3) and
    stores transitions; goal-conditioned episodes are relabelled (HER) when they end.

    Actions are stored normalised to [-1, 1] and scaled to the env's bounds for stepping.
    """

    agent: SACAgent

    def __init__(self, agent: SACAgent, end: int) -> None:
        super().__init__(agent, end)
        num_envs = agent.config.num_envs
        self.episodes = [Episode() for _ in range(num_envs)] if agent.use_her else None

    def _make_envs(self) -> Any:
        c = self.agent.config
        return make_control_vector_env(c.env_name, c.num_envs, **c.env_config)

    def _act(self, obs: Any) -> np.ndarray:
        """Normalised actions in [-1, 1] for a vector observation."""
        agent = self.agent
        batch = agent._flatten(obs)
        if agent.num_timesteps < agent.config.learning_starts:
            return agent.rng.uniform(-1.0, 1.0, (len(batch), agent.action_dim)).astype(np.float32)
        return agent._sample_normalised(batch)

    def _env_actions(self, actions: np.ndarray) -> np.ndarray:
        return self.agent.scale_action(actions)

    def start(self) -> None:
        """Refresh the NumPy policy (weights may have been set) and dispatch the first step."""
        self.agent._rollout_actor.refresh()
        super().start()

    def _store(self, step: VectorStep) -> None:
        """Add the one-step transitions (and, with HER, remember the goal episodes)."""
        agent, done = self.agent, step.done
        final = [
            step.infos["final_obs"][i] if done[i] else _env_obs(step.next_obs, i)
            for i in range(len(done))
        ]
        final_flat = np.stack([agent._flatten(obs)[0] for obs in final])
        discounts = agent.config.gamma * (1.0 - np.asarray(step.terminated, np.float32))
        assert self.actions is not None
        agent.replay.add(
            agent._flatten(self.obs), self.actions, step.rewards, final_flat, discounts
        )
        if self.episodes is not None:
            self._remember(final, step.rewards, discounts, done)

    def _remember(self, final: list, rewards, discounts, done) -> None:
        """Keep goal episodes per env; add their hindsight copies when they end."""
        agent = self.agent
        assert self.episodes is not None and self.actions is not None
        for i, episode in enumerate(self.episodes):
            episode.add(_env_obs(self.obs, i), self.actions[i], rewards[i], final[i], discounts[i])
            if done[i]:
                copies = relabel(episode, agent.config.her_goals, agent.compute_reward, agent.rng)
                agent.replay.add(**copies)
                self.episodes[i] = Episode()

"""Episode rollouts shared by the DQN agent and the baselines: returns, crashes, speed, GIFs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from autonomy.annotate import (
    StepInfo,
    action_label,
    action_labels,
    annotate_frame,
    q_value_function,
)
from autonomy.env import make_env

Policy = Callable[[np.ndarray], int]
EnvMaker = Callable[..., Any]  # make_env or autonomy.control_env.make_control_env


def env_action(action: Any) -> Any:
    """What ``env.step`` takes: an int for a discrete action, a float32 vector otherwise."""
    if np.ndim(action) == 0:
        return int(action)
    return np.asarray(action, np.float32).reshape(-1)


def continuous_label(action: np.ndarray) -> str:
    """A short label of a continuous action for the episode strip: ``[+0.12 -0.50]``."""
    return "[" + " ".join(f"{value:+.2f}" for value in np.reshape(action, -1)) + "]"


def _bound(policy: Any, env: Any) -> Policy:
    """A policy that plans with the simulator (``bind_env(env) -> Policy``) gets the live env."""
    bind = getattr(policy, "bind_env", None)
    return bind(env) if callable(bind) else policy


def evaluate_policy(
    policy: Any,
    env_name: str,
    env_config: Mapping[str, Any] | None = None,
    episodes: int = 10,
    seed: int = 10_000,
    make: EnvMaker = make_env,
) -> dict[str, float]:
    """Run ``episodes`` full episodes (env seeds ``seed, seed+1, ...``) and summarise them.

    ``crash_rate`` is the share of episodes that ended with ``info["crashed"]``; ``mean_speed``
    averages ``info["speed"]`` over all steps (NaN for envs that report neither). ``policy`` maps
    an observation to an action, or has ``bind_env(env)`` returning such a map (a planner).
    Goal-conditioned envs that report ``info["is_success"]`` add ``success_rate``; ``make``
    builds the env (``make_env``; ``make_control_env`` for continuous control).
    """
    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    env = make(env_name, **dict(env_config or {}))
    policy = _bound(policy, env)
    returns, lengths, crashes, speeds, successes = [], [], [], [], []
    try:
        for episode in range(int(episodes)):
            obs, info = env.reset(seed=int(seed) + episode)
            total, length, done = 0.0, 0, False
            while not done:
                obs, reward, terminated, truncated, info = env.step(env_action(policy(obs)))
                total += float(reward)
                length += 1
                if "speed" in info:
                    speeds.append(float(info["speed"]))
                done = terminated or truncated
            returns.append(total)
            lengths.append(length)
            crashes.append(bool(info.get("crashed", False)))
            if "is_success" in info:
                successes.append(bool(info["is_success"]))
    finally:
        env.close()
    success = {"success_rate": float(np.mean(successes))} if successes else {}
    return {
        **success,
        "episodes": int(episodes),
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "crash_rate": float(np.mean(crashes)),
        "mean_speed": float(np.mean(speeds)) if speeds else float("nan"),
        "mean_length": float(np.mean(lengths)),
    }


def record_episode(
    policy: Any,
    path: str | os.PathLike,
    env_name: str,
    env_config: Mapping[str, Any] | None = None,
    seed: int = 0,
    max_steps: int = 200,
    fps: int = 5,
    annotate: bool = True,
    q_values: Callable[[np.ndarray], np.ndarray] | bool | None = None,
    make: EnvMaker = make_env,
) -> dict[str, Any]:
    """Render one episode headless (``rgb_array``) as a GIF (Pillow) or MP4 (imageio) file.

    With ``annotate`` (the default) each frame gets a strip below it (``autonomy.annotate``):
    step, action (by name where the env names its actions), step reward, return so far, ego
    speed, ``CRASHED`` at a crash, and a bar chart of the Q-values with the taken action
    highlighted. ``q_values`` maps an observation to Q-values; None finds the agent's own
    ``q_values`` (a DQN agent's ``act`` brings it), False draws no chart. ``annotate=False``
    writes the bare renders.
    """
    path = Path(path)
    if path.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"recordings are .gif or .mp4 files, got {path.name!r}")
    if q_values is None or q_values is True:
        found = q_value_function(policy)
        if q_values is True and found is None:
            raise ValueError("q_values=True needs a policy with a q_values method")
        q_values = found
    elif q_values is False:
        q_values = None
    env = make(env_name, render_mode="rgb_array", **dict(env_config or {}))
    labels = action_labels(env)
    policy = _bound(policy, env)
    frames: list[Any] = []
    actions: list[str] = []
    info: dict[str, Any] = {}
    total = 0.0

    def render(shown: StepInfo) -> np.ndarray:
        """The current render, with its strip when annotating."""
        image = np.asarray(env.render(), np.uint8)
        return annotate_frame(image, shown) if annotate else np.asarray(image, np.uint8)

    try:
        obs, info = env.reset(seed=int(seed))
        frames.append(render(StepInfo(step=0, speed=_speed(info))))
        for step in range(1, int(max_steps) + 1):
            values = (
                None
                if q_values is None or not annotate
                else np.asarray(q_values(obs), float).reshape(-1).tolist()
            )
            action = env_action(policy(obs))
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            discrete = isinstance(action, int)
            actions.append(action_label(action, labels) if discrete else continuous_label(action))
            shown = StepInfo(
                step=step,
                action=action if discrete else None,
                action_name=actions[-1],
                reward=float(reward),
                total=total,
                speed=_speed(info),
                crashed=bool(info.get("crashed", False)),
                q_values=values,
            )
            frames.append(render(shown))
            if terminated or truncated:
                break
    finally:
        env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(np.asarray(frame, np.uint8)) for frame in frames]
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
        )
    else:
        try:
            import imageio.v3 as iio
        except ImportError as error:
            raise ValueError(
                "MP4 recording needs imageio[ffmpeg]; use a .gif path instead"
            ) from error
        iio.imwrite(path, np.stack(frames), fps=fps)
    height, width = np.asarray(frames[0]).shape[:2]
    return {
        "path": str(path),
        "frames": len(frames),
        "return": total,
        "crashed": bool(info.get("crashed", False)),
        **({"success": bool(info["is_success"])} if "is_success" in info else {}),
        "actions": actions,
        "frame_size": [int(width), int(height)],
        "annotated": bool(annotate),
    }


def _speed(info: Mapping[str, Any]) -> float | None:
    """The ego speed ``info["speed"]`` reports (highway-env), or None."""
    speed = info.get("speed")
    try:
        return None if speed is None else float(speed)
    except (TypeError, ValueError):
        return None


class PolicyRollouts:
    """``evaluate`` and ``record`` for an agent (``DQNAgent`` and the baselines share them, so
    their numbers compare): rollouts of ``policy`` in the env that ``rollout_env`` names."""

    act: Callable[..., Any]  # observation -> action
    #: Builds the rollout env: ``make_env`` (discrete actions); SAC uses ``make_control_env``.
    make_rollout_env: ClassVar[EnvMaker] = staticmethod(make_env)

    def rollout_env(self) -> tuple[str, Mapping[str, Any]]:
        """(env name, env config) the rollouts run in."""
        raise NotImplementedError

    @property
    def policy(self) -> Any:
        """What the rollouts run: ``act``, or an object that binds to the env (a planner)."""
        return self.act

    def evaluate(self, episodes: int = 10, seed: int = 10_000) -> dict[str, float]:
        """Greedy rollouts: mean/std return, crash rate, mean speed and mean episode length."""
        return evaluate_policy(
            self.policy, *self.rollout_env(), episodes, seed, make=type(self).make_rollout_env
        )

    def record(
        self,
        path: str | os.PathLike,
        seed: int = 0,
        max_steps: int = 200,
        annotate: bool = True,
    ) -> dict[str, Any]:
        """Write a GIF (or MP4 with imageio) of one greedy episode, rendered headless.

        ``annotate`` adds a strip under each frame: step, action, reward, return, speed,
        crash and, for an agent with Q-values, the Q-values (the chosen action highlighted);
        ``annotate=False`` writes the bare renders.
        """
        name, config = self.rollout_env()
        return record_episode(
            self.policy,
            Path(path),
            name,
            config,
            seed,
            max_steps,
            annotate=annotate,
            make=type(self).make_rollout_env,
        )

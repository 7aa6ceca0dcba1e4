"""Episode rollouts shared by the DQN agent and the baselines: returns, crashes, speed, GIFs."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autonomy.env import make_env

Policy = Callable[[np.ndarray], int]


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
) -> dict[str, float]:
    """Run ``episodes`` full episodes (env seeds ``seed, seed+1, ...``) and summarise them.

    ``crash_rate`` is the share of episodes that ended with ``info["crashed"]``; ``mean_speed``
    averages ``info["speed"]`` over all steps (NaN for envs that report neither). ``policy`` maps
    an observation to an action, or has ``bind_env(env)`` returning such a map (a planner).
    """
    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    env = make_env(env_name, **dict(env_config or {}))
    policy = _bound(policy, env)
    returns, lengths, crashes, speeds = [], [], [], []
    try:
        for episode in range(int(episodes)):
            obs, info = env.reset(seed=int(seed) + episode)
            total, length, done = 0.0, 0, False
            while not done:
                obs, reward, terminated, truncated, info = env.step(int(policy(obs)))
                total += float(reward)
                length += 1
                if "speed" in info:
                    speeds.append(float(info["speed"]))
                done = terminated or truncated
            returns.append(total)
            lengths.append(length)
            crashes.append(bool(info.get("crashed", False)))
    finally:
        env.close()
    return {
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
) -> dict[str, Any]:
    """Render one episode headless (``rgb_array``) as a GIF (Pillow) or MP4 (imageio) file."""
    path = Path(path)
    if path.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"recordings are .gif or .mp4 files, got {path.name!r}")
    env = make_env(env_name, render_mode="rgb_array", **dict(env_config or {}))
    policy = _bound(policy, env)
    frames: list[Any] = []
    info: dict[str, Any] = {}
    total = 0.0
    try:
        obs, info = env.reset(seed=int(seed))
        frames.append(env.render())
        for _ in range(int(max_steps)):
            obs, reward, terminated, truncated, info = env.step(int(policy(obs)))
            total += float(reward)
            frames.append(env.render())
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
    return {
        "path": str(path),
        "frames": len(frames),
        "return": total,
        "crashed": bool(info.get("crashed", False)),
    }

"""Autonomy example pipeline, readable top to bottom: env -> agent -> learn -> evaluate -> export.

Run it with ``python -m autonomy.pipelines highway [--quick]``; ``dlsuite demo`` runs the quick
version (a few thousand steps) and prints its evaluation table next to the baselines.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from autonomy.baselines import IdleAgent, RandomAgent
from autonomy.dqn import DQNAgent
from autonomy.env import make_env
from common.demo import DemoResult


def highway(
    quick: bool = False,
    models_dir: str | Path = "models",
    reports_dir: str | Path = "reports",
    env_name: str = "highway-fast-v0",
    steps: int | None = None,
    episodes: int | None = None,
) -> dict[str, Any]:
    """Learn to drive on highway-fast-v0 with DQN; compare with random and IDLE drivers.

    ``quick`` trains 3,000 steps and evaluates 3 episodes (20,000 and 10 otherwise);
    ``steps`` / ``episodes`` override those budgets.
    """
    models_dir, reports_dir = Path(models_dir), Path(reports_dir) / "autonomy_highway"
    steps = steps or (3_000 if quick else 20_000)
    episodes = episodes or (3 if quick else 10)

    # 1. Agent: Double + dueling + 3-step DQN on flattened Kinematics observations; two
    #    environment worker processes collect experience in parallel. gamma 0.9 and batch 64 are
    #    the benchmarked recipe (bench/autonomy_dqn.py): a longer horizon makes crashes costly.
    agent = DQNAgent(
        env_name=env_name,
        num_envs=2,
        gamma=0.9,
        batch_size=64,
        exploration_steps=steps // 10,
        learning_starts=min(200, steps // 2),
        seed=0,
    )

    # 2. Learn, logging to TensorBoard (``tensorboard --logdir reports/autonomy_highway``); a
    #    summary line every 1,000 steps instead of a progress bar, so the demo log stays short.
    agent.learn(steps, log_dir=reports_dir / "tensorboard", progress_bar=False, log_every=1000)
    agent.save(models_dir / "highway_dqn.keras")

    # 3. Evaluate the greedy policy and the baselines on the same evaluation seeds.
    table = [
        {"policy": "DQN", **agent.evaluate(episodes)},
        {"policy": "random", **RandomAgent(env_name).evaluate(episodes)},
        {"policy": "IDLE", **IdleAgent(env_name).evaluate(episodes)},
    ]

    # 4. Watch it drive: one greedy episode as a GIF (rendered headless).
    gif = agent.record(reports_dir / "episode.gif", max_steps=60)

    # 5. Export the Q-network for TF Serving and check it picks the same actions as the agent.
    version_dir = agent.export(models_dir / "highway")
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    env = make_env(env_name)
    observations = np.stack([env.reset(seed=s)[0] for s in range(8)])
    env.close()
    served_actions = served(observation=tf.constant(observations))["action"].numpy()
    agree = float(np.mean(served_actions == agent.act(observations)))

    return {
        "table": table,
        "train_steps": agent.num_timesteps,
        "env_steps_per_s": round(agent.train_steps_per_second, 1),
        "gif": gif["path"],
        "export": str(version_dir),
        "export_agrees": agree,
        "request": {"observation": observations[:1].tolist()},
    }


def demo(models_dir: str | Path = "models", reports_dir: str | Path = "reports") -> DemoResult:
    """What ``dlsuite demo`` runs for autonomy: a few thousand DQN steps on highway-fast-v0."""
    summary = highway(quick=True, models_dir=models_dir, reports_dir=reports_dir)
    rows = []
    for row in summary["table"]:
        rows.append(
            {
                "task": f"autonomy/dqn highway-fast ({row['policy']})",
                "mean_return": row["mean_return"],
                "crash_rate": row["crash_rate"],
                "mean_speed": row["mean_speed"],
            }
        )
    rows[0].update(
        train_steps=summary["train_steps"],
        export=summary["export"],
        export_agrees=summary["export_agrees"],
        gif=summary["gif"],
    )
    return DemoResult(rows=rows, requests={"highway": summary["request"]})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pipeline", choices=["highway"])
    parser.add_argument("--quick", action="store_true", help="3,000 steps, 3 evaluation episodes")
    parser.add_argument("--env", default="highway-fast-v0")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--reports-dir", default="reports")
    args = parser.parse_args(argv)
    result = highway(args.quick, args.models_dir, args.reports_dir, env_name=args.env)
    result.pop("request")
    for row in result.pop("table"):
        print(
            f"{row['policy']:>8}: return {row['mean_return']:.2f} ± {row['std_return']:.2f}, "
            f"crash rate {row['crash_rate']:.0%}, speed {row['mean_speed']:.1f} m/s, "
            f"length {row['mean_length']:.1f}"
        )
    for key, value in result.items():
        print(f"{key:>15}: {value}")


if __name__ == "__main__":
    main()

"""Benchmark: dlsuite SAC (+HER) vs Stable-Baselines3 SAC (+HER) on parking-v0 and Reacher-v5.

Same envs, step budgets, seeds, networks ([256, 256]), batch size, learning rate, gamma, tau and
updates per env step (1) for both libraries; SB3 learns in one env, dlsuite in two worker
processes (``num_envs=2``, 2 gradient steps per vector step), so its env simulation overlaps the
gradient steps. Every run trains in its own process, one at a time. Both are evaluated with the
same deterministic rollouts (``autonomy.evaluation.evaluate_policy``, env seeds
10_000 + 100 * seed + episode), and the dlsuite row also checks that its SavedModel export
returns ``agent.act``'s actions.

    python -m bench.autonomy_control                       # defaults: the recorded run
    python -m bench.autonomy_control --envs Reacher-v5 --steps 2000 --seeds 0

The machine is 2 shared CPU cores: budgets are small (a few thousand steps), far below what
either library needs to solve parking (~50k steps), and are recorded as run. Results are written
after every run to ``bench/results/autonomy_control.json``. No dataset (simulators).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._harness import bench_parser, write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "autonomy_control.json"
EVAL_SEED = 10_000
COMMON = dict(hidden_units=[256, 256], batch_size=256, learning_starts=500, buffer_size=100_000)
# parking: highway-env's SB3 HER recipe (lr 1e-3, gamma 0.95, tau 0.05, 4 future goals) with the
# network cut from [512]*3 / batch 1024 to [256]*2 / 256 for 2 CPU cores; Reacher: SB3 defaults.
RECIPES: dict[str, dict[str, Any]] = {
    "parking-v0": dict(learning_rate=1e-3, gamma=0.95, tau=0.05, her_goals=4),
    "Reacher-v5": dict(learning_rate=3e-4, gamma=0.99, tau=0.005),
}


def eval_seed(seed: int) -> int:
    return EVAL_SEED + 100 * seed


def run_dlsuite(env_name: str, seed: int, steps: int, episodes: int, gif: Path | None) -> dict:
    import tensorflow as tf

    from autonomy import SACAgent
    from autonomy.control_env import make_control_env

    agent = SACAgent(
        env_name=env_name, seed=seed, num_envs=2, gradient_steps=2, **COMMON, **RECIPES[env_name]
    )
    agent.learn(steps, progress_bar=False, log_every=1000)
    report = agent.evaluate(episodes, seed=eval_seed(seed))
    env = make_control_env(env_name)
    observations = [env.reset(seed=s)[0] for s in range(8)]
    env.close()
    with tempfile.TemporaryDirectory() as folder:
        served = tf.saved_model.load(str(agent.export(folder))).signatures["serving_default"]
        if agent.goal_conditioned:
            inputs = {
                k: tf.constant(np.stack([o[k] for o in observations]))
                for k in ("observation", "desired_goal")
            }
        else:
            inputs = {"observation": tf.constant(np.stack(observations))}
        exported = served(**inputs)["action"].numpy()
    export_gap = float(np.max(np.abs(exported - agent.act(observations))))
    row = {
        "method": "dlsuite SAC" + (" + HER" if agent.use_her else ""),
        "env": env_name,
        "seed": seed,
        "steps": agent.num_timesteps,
        **report,
        "train_s": round(agent.train_seconds, 1),
        "env_steps_per_s": round(agent.train_steps_per_second, 1),
        "gradient_steps": agent.num_updates,
        "export_max_abs_diff_vs_act": export_gap,
    }
    if gif is not None:
        row["gif"] = str(agent.record(gif, seed=eval_seed(seed), max_steps=80)["path"])
    return row


def run_sb3(env_name: str, seed: int, steps: int, episodes: int) -> dict:
    import torch
    from stable_baselines3 import SAC, HerReplayBuffer

    from autonomy.control_env import make_control_env
    from autonomy.evaluation import evaluate_policy

    torch.set_num_threads(1)  # 2 threads ran at ~3 steps/s on the loaded 2 cores
    recipe = dict(RECIPES[env_name])
    her_goals = recipe.pop("her_goals", None)
    env = make_control_env(env_name, seed=seed)
    options: dict[str, Any] = dict(
        batch_size=COMMON["batch_size"],
        learning_starts=COMMON["learning_starts"],
        buffer_size=COMMON["buffer_size"],
        policy_kwargs=dict(net_arch=COMMON["hidden_units"]),
        seed=seed,
        **recipe,
    )
    if her_goals is not None:
        options.update(
            replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs=dict(n_sampled_goal=her_goals, goal_selection_strategy="future"),
        )
    policy = "MultiInputPolicy" if her_goals is not None else "MlpPolicy"
    model = SAC(policy, env, **options)
    started = time.perf_counter()
    model.learn(steps)
    train_s = time.perf_counter() - started
    report = evaluate_policy(
        lambda obs: model.predict(obs, deterministic=True)[0],
        env_name,
        episodes=episodes,
        seed=eval_seed(seed),
        make=make_control_env,
    )
    return {
        "method": "SB3 SAC" + (" + HER" if her_goals is not None else ""),
        "env": env_name,
        "seed": seed,
        "steps": steps,
        **report,
        "train_s": round(train_s, 1),
        "env_steps_per_s": round(steps / train_s, 1),
        "gradient_steps": int(model._n_updates),
        "torch_threads": 1,
    }


def run_one(method: str, env_name: str, seed: int, args: argparse.Namespace) -> dict:
    if method == "dlsuite":
        gif = None
        if seed == args.seeds[0] and env_name == "parking-v0":
            gif = args.output.with_name("autonomy_control_parking.gif")
        return run_dlsuite(env_name, seed, args.steps, args.episodes, gif)
    return run_sb3(env_name, seed, args.steps, args.episodes)


def run_isolated(method: str, env_name: str, seed: int, args: argparse.Namespace) -> dict | None:
    """Each run in its own interpreter: TF and torch in one process slowed SB3 ~10x here
    (shared thread pools), and a fresh process keeps runs from sharing caches."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "run.json"
        command = [sys.executable, "-m", "bench.autonomy_control", "--steps", str(args.steps)]
        command += ["--episodes", str(args.episodes), "--output", str(args.output)]
        command += ["--seeds", *map(str, args.seeds)]
        command += ["--single", method, env_name, str(seed), str(result)]
        code = subprocess.run(command, cwd=ROOT).returncode
        if code != 0 or not result.exists():
            print(f"{method} {env_name} seed {seed} failed with exit code {code}", flush=True)
            return None
        return json.loads(result.read_text())


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and std over seeds per (env, method)."""
    keys = ("mean_return", "success_rate", "crash_rate", "env_steps_per_s", "train_s")
    table = []
    for env_name, method in dict.fromkeys((r["env"], r["method"]) for r in runs):
        rows = [r for r in runs if r["env"] == env_name and r["method"] == method]
        row: dict[str, Any] = {
            "env": env_name,
            "method": method,
            "seeds": [r["seed"] for r in rows],
        }
        for key in keys:
            values = [r[key] for r in rows if key in r]
            if values:
                row[key] = float(np.mean(values))
                row[f"{key}_std"] = float(np.std(values))
        table.append(row)
    return table


def speed_ratios(table: list[dict]) -> dict[str, float]:
    """dlsuite / SB3 training env-steps/s per env."""
    ratios = {}
    for env_name in dict.fromkeys(r["env"] for r in table):
        speeds = {
            r["method"].split()[0]: r["env_steps_per_s"] for r in table if r["env"] == env_name
        }
        if "dlsuite" in speeds and "SB3" in speeds:
            ratios[env_name] = round(speeds["dlsuite"] / speeds["SB3"], 2)
    return ratios


def print_table(table: list[dict]) -> None:
    print(f"{'env':<12} {'method':<20} {'return':>16} {'success':>8} {'steps/s':>8}")
    for r in table:
        success = f"{r['success_rate']:.2f}" if "success_rate" in r else "-"
        ret = f"{r['mean_return']:.2f} ± {r['mean_return_std']:.2f}"
        print(
            f"{r['env']:<12} {r['method']:<20} {ret:>16} {success:>8} {r['env_steps_per_s']:>8.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--envs", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--steps", type=int, default=1500, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=5, help="evaluation episodes per run")
    parser.add_argument("--methods", nargs="+", default=["dlsuite", "sb3"])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--single", nargs=4, help=argparse.SUPPRESS)  # METHOD ENV SEED JSON
    args = parser.parse_args(argv)
    if args.single:
        method, env_name, seed, path = args.single
        Path(path).write_text(json.dumps(run_one(method, env_name, int(seed), args)))
        return 0
    runs: list[dict] = []
    started = time.perf_counter()
    for seed in args.seeds:
        for env_name in args.envs:
            for method in args.methods:
                load_before = os.getloadavg()[0]
                row = run_isolated(method, env_name, seed, args)
                if row is None:
                    continue
                row["load_avg_1min_before"] = round(load_before, 2)
                runs.append(row)
                print({k: v for k, v in row.items() if k != "gif"}, flush=True)
                table = summarise(runs)
                write_json(
                    args.output,
                    {
                        "benchmark": "autonomy_control",
                        "envs": args.envs,
                        "steps": args.steps,
                        "seeds": args.seeds,
                        "eval_episodes": args.episodes,
                        "common": COMMON,
                        "recipes": RECIPES,
                        "fairness": "same networks, batch, lr, gamma, tau, learning_starts, "
                        "buffer and 1 gradient step per env step for both; dlsuite steps 2 envs in "
                        "worker processes (2 updates per vector step), SB3 one env in process",
                        "machine": "2 shared CPU cores (other engineers' jobs running)",
                        "wall_s": round(time.perf_counter() - started, 1),
                        "summary": table,
                        "speed_ratio_dlsuite_vs_sb3": speed_ratios(table),
                        "runs": runs,
                    },
                )
    print_table(summarise(runs))
    print("env-steps/s ratio dlsuite/SB3:", speed_ratios(summarise(runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: dlsuite DQN vs Stable-Baselines3 DQN vs random / IDLE on highway-fast-v0.

Same env, seeds and step budget for every method. Reports greedy evaluation return, crash rate,
mean speed, training wall time and training env-steps/s, per seed and averaged, plus the
dlsuite/SB3 throughput ratio measured in the same run. SB3 is optional (skipped when
``stable_baselines3`` is not importable). Results are written after every run, so an
interrupted benchmark still leaves what finished in ``bench/results/autonomy_dqn.json``.

    python bench/autonomy_dqn.py --steps 20000 --seeds 0 1 2

No dataset: experience comes from the simulator (highway-env), so there is no --data option.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "autonomy_dqn.json"
METHODS = ("random", "idle", "dlsuite", "sb3")
# highway-env's own SB3 DQN recipe (scripts/sb3_highway_dqn.py), shared by both DQNs.
RECIPE = dict(
    hidden_units=[256, 256],
    learning_rate=5e-4,
    buffer_size=15_000,
    learning_starts=200,
    batch_size=32,
    gamma=0.8,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=50,
    max_grad_norm=10.0,
)


def run_baseline(kind: str, env_name: str, seed: int, episodes: int) -> dict:
    from autonomy import IdleAgent, RandomAgent

    agent = (RandomAgent if kind == "random" else IdleAgent)(env_name, seed=seed)
    return {"method": kind, "seed": seed, **agent.evaluate(episodes, seed=10_000 + 100 * seed)}


def run_dlsuite(env_name: str, seed: int, steps: int, episodes: int, num_envs: int) -> dict:
    from autonomy import DQNAgent

    agent = DQNAgent(
        env_name=env_name,
        num_envs=num_envs,
        seed=seed,
        exploration_steps=int(0.1 * steps),
        **RECIPE,
    )
    agent.learn(steps, log_every=2000)
    report = agent.evaluate(episodes, seed=10_000 + 100 * seed)
    return {
        "method": f"dlsuite DQN ({num_envs} envs)",
        "seed": seed,
        "steps": steps,
        **report,
        "train_s": round(agent.train_seconds, 1),
        "env_steps_per_s": agent.train_steps_per_second,
        "gradient_steps": agent.num_updates,
    }


def run_sb3(env_name: str, seed: int, steps: int, episodes: int) -> dict:
    from stable_baselines3 import DQN

    from autonomy.env import make_env
    from autonomy.evaluation import evaluate_policy

    env = make_env(env_name, seed=seed)
    model = DQN(
        "MlpPolicy",
        env,
        policy_kwargs=dict(net_arch=RECIPE["hidden_units"]),
        learning_rate=RECIPE["learning_rate"],
        buffer_size=RECIPE["buffer_size"],
        learning_starts=RECIPE["learning_starts"],
        batch_size=RECIPE["batch_size"],
        gamma=RECIPE["gamma"],
        train_freq=RECIPE["train_freq"],
        gradient_steps=RECIPE["gradient_steps"],
        target_update_interval=RECIPE["target_update_interval"],
        max_grad_norm=RECIPE["max_grad_norm"],
        exploration_fraction=0.1,
        exploration_final_eps=0.05,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    started = time.perf_counter()
    model.learn(steps)
    train_s = time.perf_counter() - started
    env.close()

    def policy(obs):
        return int(model.predict(obs, deterministic=True)[0])

    report = evaluate_policy(policy, env_name, {}, episodes, seed=10_000 + 100 * seed)
    return {
        "method": "SB3 DQN (1 env)",
        "seed": seed,
        "steps": steps,
        **report,
        "train_s": round(train_s, 1),
        "env_steps_per_s": steps / train_s,
        "gradient_steps": int(model._n_updates),
    }


def summarise(runs: list[dict]) -> list[dict]:
    """Mean (and std across seeds) of each method's metrics, per training budget."""
    import numpy as np

    rows = []
    for method, steps in dict.fromkeys((run["method"], run.get("steps")) for run in runs):
        mine = [run for run in runs if run["method"] == method and run.get("steps") == steps]
        row = {"method": method, "steps": steps or "", "seeds": len(mine)}
        for key in ("mean_return", "crash_rate", "mean_speed", "mean_length", "train_s", "env_steps_per_s"):
            values = [run[key] for run in mine if key in run]
            if values:
                row[key] = float(np.mean(values))
                if key == "mean_return":
                    row["return_std_over_seeds"] = float(np.std(values))
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    columns = ["method", "steps", "seeds", "mean_return", "return_std_over_seeds", "crash_rate",
               "mean_speed", "train_s", "env_steps_per_s"]
    print(" | ".join(f"{c:>21}" for c in columns))
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            cells.append(f"{value:>21.3f}" if isinstance(value, float) else f"{value!s:>21}")
        print(" | ".join(cells))


def write(output: Path, args: argparse.Namespace, runs: list[dict], started: float) -> dict:
    rows = summarise(runs)
    ratios = {}  # dlsuite / SB3 training env-steps/s, for each budget both were run with
    for row in rows:
        if row["method"].startswith("dlsuite"):
            sb3 = [r for r in rows if r["method"].startswith("SB3") and r["steps"] == row["steps"]]
            if sb3:
                ratios[str(row["steps"])] = row["env_steps_per_s"] / sb3[0]["env_steps_per_s"]
    result = {
        "env": args.env,
        "steps": sorted({run["steps"] for run in runs if "steps" in run}),
        "seeds": sorted({run["seed"] for run in runs}),
        "eval_episodes": args.episodes,
        "num_envs": args.num_envs,
        "recipe": RECIPE,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
        "(shared with other jobs: timings taken on a loaded machine)",
        "summary": rows,
        "speed_ratio_dlsuite_vs_sb3": ratios,
        "runs": runs,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    return result


def run_one(kind: str, seed: int, args: argparse.Namespace) -> dict:
    if kind in ("random", "idle"):
        return run_baseline(kind, args.env, seed, args.episodes)
    if kind == "dlsuite":
        return run_dlsuite(args.env, seed, args.steps, args.episodes, args.num_envs)
    return run_sb3(args.env, seed, args.steps, args.episodes)


def run_isolated(kind: str, seed: int, args: argparse.Namespace) -> dict | None:
    """Each run in its own interpreter: TF and torch (SB3) crash when loaded into one process,
    and a fresh process per run keeps the methods from sharing thread pools or caches."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "run.json"
        command = [sys.executable, __file__, "--env", args.env, "--steps", str(args.steps),
                   "--episodes", str(args.episodes), "--num-envs", str(args.num_envs),
                   "--single", kind, str(seed), str(result)]
        code = subprocess.run(command, cwd=ROOT).returncode
        if code != 0 or not result.exists():
            print(f"{kind} seed {seed} failed with exit code {code}", flush=True)
            return None
        return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="highway-fast-v0")
    parser.add_argument("--steps", type=int, default=20_000, help="training env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes per run")
    parser.add_argument("--num-envs", type=int, default=2, help="dlsuite AsyncVectorEnv workers")
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--append", action="store_true",
                        help="keep the runs already in --output (e.g. another step budget)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument("--single", nargs=3, metavar=("KIND", "SEED", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    if args.single:
        kind, seed, path = args.single
        Path(path).write_text(json.dumps(run_one(kind, int(seed), args)))
        return
    try:
        import stable_baselines3  # noqa: F401

        have_sb3 = not args.skip_sb3
    except ImportError:
        have_sb3 = False
        print("stable-baselines3 not installed: SB3 rows skipped")

    output, started, runs = Path(args.output), time.perf_counter(), []
    if args.append and output.exists():
        previous = json.loads(output.read_text())
        runs = previous["runs"]
        for run in runs:  # files from before per-run budgets were recorded
            if not run["method"].startswith(("random", "idle")) and isinstance(previous["steps"], int):
                run.setdefault("steps", previous["steps"])
    wanted = set(args.methods) - (set() if have_sb3 else {"sb3"})
    plan = [("random", s) for s in args.seeds] + [("idle", s) for s in args.seeds]
    # One paired seed first, so a benchmark cut short still compares like with like.
    plan += [("dlsuite", args.seeds[0]), ("sb3", args.seeds[0])]
    plan += [("dlsuite", seed) for seed in args.seeds[1:]]
    plan += [("sb3", seed) for seed in args.seeds[1:]]
    plan = [(kind, seed) for kind, seed in plan if kind in wanted]
    for kind, seed in plan:
        print(f"--- {kind} seed {seed} ({time.perf_counter() - started:.0f} s elapsed)", flush=True)
        run = run_isolated(kind, seed, args)
        if run is None:
            continue
        print(json.dumps(run), flush=True)
        runs.append(run)
        result = write(output, args, runs, started)
    result = write(output, args, runs, started)
    print_table(result["summary"])
    print(f"training env-steps/s, dlsuite / SB3 (per step budget): "
          f"{result['speed_ratio_dlsuite_vs_sb3']}")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()

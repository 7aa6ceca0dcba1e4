"""Benchmark: dlsuite DQN vs Stable-Baselines3 DQN vs random / IDLE / a lookahead planner on
highway-fast-v0.

Same env, seeds and step budget for every method. Reports greedy evaluation return, crash rate,
mean speed, training wall time and training env-steps/s, per seed and averaged, plus the
dlsuite/SB3 throughput ratio measured in the same run. The lookahead planner, which searches
copies of the simulator (``autonomy.LookaheadPlanner``), is the ceiling reference: it learns
nothing and sees what no agent can, so it shows what good driving scores in this scene. SB3 is
optional (skipped when ``stable_baselines3`` is not importable). Results are written after every
run, so an interrupted benchmark still leaves what finished in ``bench/results/autonomy_dqn.json``.

    python -m bench.autonomy_dqn --steps 20000 --seeds 0 1 2          # everything, serially
    python -m bench.autonomy_dqn --agents dlsuite --seeds 1 --update  # one section, merged in
    python -m bench.autonomy_dqn --agents planner --planner-episodes 10 --update  # the ceiling
    python -m bench.autonomy_dqn --agents dlsuite --encoder ego_attention --update

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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "autonomy_dqn.json"
METHODS = ("random", "idle", "planner", "dlsuite", "sb3")
PLANNER_NAME = "lookahead planner, depth {depth}"  # ceiling reference: searches simulator copies
EVAL_SEED = 10_000  # evaluation episodes use env seeds 10_000 + 100 * seed + episode; training
#                     resets use seed + worker index (then the envs' own RNG), so they never meet
# highway-env's own SB3 DQN recipe (scripts/sb3_highway_dqn.py): vanilla DQN, 1 env, one
# gradient step of batch 32 per env step.
SB3_RECIPE: dict[str, Any] = dict(
    net_arch=[256, 256],
    learning_rate=5e-4,
    buffer_size=15_000,
    learning_starts=200,
    batch_size=32,
    gamma=0.8,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=50,
    exploration_fraction=0.7,
    exploration_final_eps=0.05,
    max_grad_norm=10.0,
)
# dlsuite: the same network, optimiser, buffer and target period, plus Double DQN, a dueling head
# and 3-step returns, and a longer horizon (gamma 0.9: a crash costs the rest of the episode, which
# gamma 0.8 hardly sees; on seed 0 it took the crash rate from 0.40 to 0.20). Two AsyncVectorEnv
# workers; one update per *vector* step, i.e. 0.5 gradient updates per env step, each on 64
# samples: the same 32 replayed samples per env step as SB3, in half as many (larger) updates.
DLSUITE_RECIPE = dict(
    hidden_units=[256, 256],
    learning_rate=5e-4,
    buffer_size=15_000,
    learning_starts=200,
    batch_size=64,
    gamma=0.9,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=50,
    max_grad_norm=10.0,
    double=True,
    dueling=True,
    n_step=3,
    epsilon_end=0.05,
)
DLSUITE_EXPLORATION_FRACTION = 0.3  # epsilon 1 -> 0.05 over the first 30 % of the steps
HAND_KEPT = (
    "probes",
    "earlier_learn_loop",
    "before_driving_ranges",
)  # results sections a rerun keeps as they are


class LoadSampler:
    """Samples the 1-minute load average every few seconds while a run trains (shared machine)."""

    def __init__(self, every_s: float = 5.0):
        import threading

        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)

    def _run(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self.samples.append(os.getloadavg()[0])
        self._cpu = _cpu_seconds()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])
        self._cpu = _cpu_seconds() - self._cpu

    def summary(self) -> dict:
        return {
            "load_avg_1min_mean": round(sum(self.samples) / len(self.samples), 2),
            "load_avg_1min_max": round(max(self.samples), 2),
            "train_cpu_s": round(self._cpu, 1),
        }


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (env workers are joined
    when ``learn`` closes its vector env), so CPU cost can be compared independently of load."""
    import resource

    mine, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def eval_seed(seed: int) -> int:
    return EVAL_SEED + 100 * seed


def run_baseline(
    kind: str, env_name: str, seed: int, episodes: int, planner_depth: int = 4
) -> dict:
    from autonomy import IdleAgent, LookaheadPlanner, RandomAgent

    if kind == "planner":
        planner = LookaheadPlanner(env_name, seed=seed, depth=planner_depth)
        started = time.perf_counter()
        report = planner.evaluate(episodes, seed=eval_seed(seed))
        return {
            "method": PLANNER_NAME.format(depth=planner_depth),
            "seed": seed,
            **report,
            "depth": planner_depth,
            "eval_s": round(time.perf_counter() - started, 1),
        }
    agent = (RandomAgent if kind == "random" else IdleAgent)(env_name, seed=seed)
    return {"method": kind, "seed": seed, **agent.evaluate(episodes, seed=eval_seed(seed))}


def run_dlsuite(
    env_name: str, seed: int, steps: int, episodes: int, num_envs: int, encoder: str = "mlp"
) -> dict:
    import tensorflow as tf

    from autonomy import DQNAgent

    agent = DQNAgent(
        env_name=env_name,
        num_envs=num_envs,
        seed=seed,
        exploration_steps=int(DLSUITE_EXPLORATION_FRACTION * steps),
        encoder=encoder,
        **DLSUITE_RECIPE,
    )
    with LoadSampler() as load:
        agent.learn(steps, log_every=2000)
    report = agent.evaluate(episodes, seed=eval_seed(seed))
    settings = dict(
        DLSUITE_RECIPE,
        num_envs=num_envs,
        vector_env="AsyncVectorEnv (env steps overlap the gradient step)"
        if num_envs > 1
        else "1 env",
        exploration_fraction=DLSUITE_EXPLORATION_FRACTION,
        updates_per_env_step=agent.config.gradient_steps / (agent.config.train_freq * num_envs),
        samples_per_env_step=agent.config.batch_size
        * agent.config.gradient_steps
        / (agent.config.train_freq * num_envs),
        tf_intra_op_threads=tf.config.threading.get_intra_op_parallelism_threads() or "default",
    )
    return {
        "method": "dlsuite DQN" + (" (ego attention)" if encoder == "ego_attention" else ""),
        "seed": seed,
        "steps": steps,
        **report,
        "train_s": round(agent.train_seconds, 1),
        "env_steps_per_s": agent.train_steps_per_second,
        "gradient_steps": agent.num_updates,
        **load.summary(),
        "settings": settings,
    }


def run_sb3(env_name: str, seed: int, steps: int, episodes: int, threads: int) -> dict:
    import torch
    from stable_baselines3 import DQN

    from autonomy.env import make_env
    from autonomy.evaluation import evaluate_policy

    torch.set_num_threads(threads)
    env = make_env(env_name, seed=seed)
    recipe = {k: v for k, v in SB3_RECIPE.items() if k != "net_arch"}
    model = DQN(
        "MlpPolicy",
        env,
        policy_kwargs=dict(net_arch=SB3_RECIPE["net_arch"]),
        seed=seed,
        device="cpu",
        verbose=0,
        **recipe,
    )
    with LoadSampler() as load:
        started = time.perf_counter()
        model.learn(steps)
        train_s = time.perf_counter() - started
    env.close()

    def policy(obs):
        return int(model.predict(obs, deterministic=True)[0])

    report = evaluate_policy(policy, env_name, {}, episodes, seed=eval_seed(seed))
    settings = dict(
        SB3_RECIPE,
        num_envs=1,
        vector_env="1 env (DummyVecEnv)",
        updates_per_env_step=1.0,
        samples_per_env_step=32.0,
        torch_threads=threads,
    )
    return {
        "method": "SB3 DQN",
        "seed": seed,
        "steps": steps,
        **report,
        "train_s": round(train_s, 1),
        "env_steps_per_s": steps / train_s,
        "gradient_steps": int(model._n_updates),
        **load.summary(),
        "settings": settings,
    }


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and std across seeds of each method's metrics, per training budget."""
    import numpy as np

    rows = []
    for method, steps in dict.fromkeys((run["method"], run.get("steps")) for run in runs):
        mine = [run for run in runs if run["method"] == method and run.get("steps") == steps]
        row = {"method": method, "steps": steps or "", "seeds": sorted(run["seed"] for run in mine)}
        for key in (
            "mean_return",
            "crash_rate",
            "mean_speed",
            "mean_length",
            "train_s",
            "env_steps_per_s",
            "gradient_steps",
            "train_cpu_s",
            "load_avg_1min_mean",
        ):
            values = [run[key] for run in mine if key in run]
            if values:
                row[key] = float(np.mean(values))
                row[f"{key}_std"] = float(np.std(values))
        if "settings" in mine[0]:
            row["settings"] = mine[0]["settings"]
        rows.append(row)
    return rows


def speed_ratios(runs: list[dict]) -> dict:
    """dlsuite / SB3 training env-steps/s per budget: of the seed means, and per paired seed."""
    ratios = {}
    for steps in sorted({run["steps"] for run in runs if "steps" in run}):
        ours, theirs = (
            {
                r["seed"]: r["env_steps_per_s"]
                for r in runs
                if r["method"] == method and r.get("steps") == steps
            }
            for method in ("dlsuite DQN", "SB3 DQN")
        )
        if ours and theirs:
            mean = lambda values: sum(values) / len(values)  # noqa: E731
            ratios[str(steps)] = {
                "of_means": mean(list(ours.values())) / mean(list(theirs.values())),
                "per_seed": {
                    str(seed): ours[seed] / theirs[seed] for seed in sorted(ours) if seed in theirs
                },
            }
    return ratios


def _cell(row: dict, key: str, digits: int) -> str:
    if key not in row:
        return ""
    if f"{key}_std" in row:
        return f"{row[key]:.{digits}f} ± {row[key + '_std']:.{digits}f}"
    return f"{row[key]:.{digits}f}"


COLUMNS = [
    ("mean_return", 2),
    ("crash_rate", 2),
    ("mean_speed", 1),
    ("train_s", 0),
    ("env_steps_per_s", 2),
    ("train_cpu_s", 0),
    ("load_avg_1min_mean", 1),
]


def print_table(result: dict) -> None:
    """Per-seed rows, then mean ± std across seeds for every method."""
    header = ["method", "steps", "seed", *[name for name, _ in COLUMNS]]
    lines = [header]
    for run in result["runs"]:
        lines.append(
            [
                run["method"],
                str(run.get("steps", "")),
                str(run["seed"]),
                *[_cell(run, key, digits) for key, digits in COLUMNS],
            ]
        )
    for row in result["summary"]:
        lines.append(
            [
                row["method"],
                str(row["steps"]),
                f"mean of {len(row['seeds'])}",
                *[_cell(row, key, digits) for key, digits in COLUMNS],
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _key(run: dict) -> tuple:
    return run["method"], run.get("steps"), run["seed"]


def write(output: Path, args: argparse.Namespace, new_runs: list[dict]) -> dict:
    """Merge ``new_runs`` into ``output`` under a file lock (parallel calls each add their runs;
    a rerun of the same method, budget and seed replaces the old one), then rewrite it."""
    import fcntl

    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        previous = json.loads(output.read_text()) if output.exists() else {}
        runs = previous.get("runs", []) if args.update else []
        merged = {_key(run): run for run in runs}
        merged.update({_key(run): run for run in new_runs})
        order = {method: i for i, method in enumerate(("random", "idle", "dlsuite DQN", "SB3 DQN"))}
        runs = sorted(
            merged.values(),
            key=lambda r: (
                order.get(r["method"], 9),
                r.get("depth", 0),
                r.get("steps") or 0,
                r["seed"],
            ),
        )
        result = {
            "env": args.env,
            "steps": sorted({run["steps"] for run in runs if "steps" in run}),
            "seeds": sorted({run["seed"] for run in runs}),
            "eval": f"{args.episodes} greedy episodes per run, env seeds {EVAL_SEED} + 100 * seed "
            "+ episode (training resets use seed + worker index)",
            "sb3_recipe": SB3_RECIPE,
            "dlsuite_recipe": dict(
                DLSUITE_RECIPE, exploration_fraction=DLSUITE_EXPLORATION_FRACTION
            ),
            "fairness": "both DQNs observe highway-fast-v0 through autonomy.make_env (Kinematics "
            "scaled to autonomy.env.DRIVING_RANGES) and learn from the same number of env steps "
            "with the same network, lr, buffer and target period; gamma is each recipe's own (SB3 "
            "0.8 as in highway-env's script, dlsuite 0.9). SB3: 1 env, 1 update of 32 samples per "
            "env step (20k updates). dlsuite: 2 AsyncVectorEnv workers, 0.5 updates of 64 samples "
            "per env step (10k updates; same replayed samples per env step); the workers simulate "
            "the next step while the learner stores the transition and updates (only acting is on "
            "the critical path). Each (method, seed) trains in its own process, one at a time; "
            "load_avg_1min_mean per run shows whether anything else ran.",
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            "shared with other jobs (see each run's load average)",
            "summary": summarise(runs),
            "speed_ratio_dlsuite_vs_sb3": speed_ratios(runs),
            "runs": runs,
        }
        for kept in HAND_KEPT:  # sections of earlier experiments, not produced by this script
            if kept in previous:
                result[kept] = previous[kept]
        staging = output.with_suffix(".json.tmp")
        staging.write_text(json.dumps(result, indent=2))
        os.replace(staging, output)
    return result


def run_one(kind: str, seed: int, args: argparse.Namespace) -> dict:
    if kind in ("random", "idle", "planner"):
        episodes = args.planner_episodes if kind == "planner" else args.episodes
        return run_baseline(kind, args.env, seed, episodes or args.episodes, args.planner_depth)
    if kind == "dlsuite":
        return run_dlsuite(args.env, seed, args.steps, args.episodes, args.num_envs, args.encoder)
    return run_sb3(args.env, seed, args.steps, args.episodes, args.sb3_threads)


def run_isolated(kind: str, seed: int, args: argparse.Namespace) -> dict | None:
    """Each run in its own interpreter: TF and torch (SB3) crash when loaded into one process,
    and a fresh process per run keeps the methods from sharing thread pools or caches."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "run.json"
        command = [
            sys.executable,
            __file__,
            "--env",
            args.env,
            "--steps",
            str(args.steps),
            "--episodes",
            str(args.episodes),
            "--num-envs",
            str(args.num_envs),
            "--sb3-threads",
            str(args.sb3_threads),
            "--planner-depth",
            str(args.planner_depth),
            "--planner-episodes",
            str(args.planner_episodes),
            "--encoder",
            args.encoder,
            "--single",
            kind,
            str(seed),
            str(result),
        ]
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
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per run")
    parser.add_argument("--num-envs", type=int, default=2, help="dlsuite AsyncVectorEnv workers")
    parser.add_argument(
        "--encoder",
        choices=["mlp", "ego_attention"],
        default="mlp",
        help="dlsuite Q-network encoder (ego_attention: rows 'dlsuite DQN (ego attention)')",
    )
    parser.add_argument(
        "--sb3-threads",
        type=int,
        default=1,
        help="torch threads for SB3 (1 is SB3's fastest on a loaded 2-core machine)",
    )
    parser.add_argument(
        "--planner-depth",
        type=int,
        default=4,
        help="lookahead planner: steps simulated per candidate action",
    )
    parser.add_argument(
        "--planner-episodes",
        type=int,
        default=0,
        help="lookahead planner evaluation episodes (0 = --episodes; it is slow)",
    )
    parser.add_argument(
        "--agents", "--methods", dest="agents", nargs="+", choices=METHODS, default=list(METHODS)
    )
    parser.add_argument(
        "--update",
        "--append",
        dest="update",
        action="store_true",
        help="merge into the runs already in --output (one section per call)",
    )
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    parser.add_argument(
        "--single", nargs=3, metavar=("KIND", "SEED", "JSON"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    if args.single:
        kind, seed, path = args.single
        Path(path).write_text(json.dumps(run_one(kind, int(seed), args)))
        return
    wanted = list(args.agents)
    if "sb3" in wanted:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            wanted.remove("sb3")
            print("stable-baselines3 not installed: SB3 rows skipped")
    output, started, result = Path(args.output), time.perf_counter(), None
    # Seed-major order, so a benchmark cut short still compares like with like.
    plan = [(kind, seed) for seed in args.seeds for kind in METHODS if kind in wanted]
    for kind, seed in plan:
        print(
            f"--- {kind} seed {seed} ({time.perf_counter() - started:.0f} s elapsed, "
            f"load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        run = run_isolated(kind, seed, args)
        if run is None:
            continue
        print(json.dumps(run), flush=True)
        args.update = True if result is not None else args.update
        result = write(output, args, [run])
    if result is not None:
        print_table(result)
        print(f"training env-steps/s, dlsuite / SB3: {result['speed_ratio_dlsuite_vs_sb3']}")
        print(f"wrote {output}")


if __name__ == "__main__":
    main()

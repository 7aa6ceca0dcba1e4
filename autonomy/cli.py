"""``dlsuite autonomy dqn train|evaluate|record|export`` (registered through an entry point)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autonomy.env import DEFAULT_ENV, HIGHWAY_ENVS


def _load(path: str):
    from autonomy.dqn import DQNAgent

    return DQNAgent.load(path)


def _train(args: argparse.Namespace) -> int:
    from autonomy.callbacks import Checkpoint, ProgressBar, TensorBoard
    from autonomy.dqn import DQNAgent

    output = Path(args.output)
    if args.resume:
        if not output.is_file():
            raise FileNotFoundError(
                f"--resume needs an existing agent file, {output} does not exist"
            )
        agent = DQNAgent.load(output)
        print(f"resuming {output} at step {agent.num_timesteps}")
    else:
        if output.exists() and not args.overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite to replace it or --resume")
        options = json.loads(args.config) if args.config else {}
        if not isinstance(options, dict):
            raise ValueError("--config must be a JSON object of DQNAgent options")
        options.update(env_name=args.env, num_envs=args.num_envs, seed=args.seed)
        agent = DQNAgent(**options)
    callbacks = [Checkpoint(output, every=args.checkpoint_every, include_buffer=args.save_buffer)]
    if args.log_dir:
        callbacks.append(TensorBoard(args.log_dir))
    if not args.quiet:
        callbacks.append(ProgressBar())
    agent.learn(args.steps, callbacks=callbacks, log_every=0)
    print(
        f"saved {output} after {agent.num_timesteps} steps "
        f"({agent.train_steps_per_second:.1f} env-steps/s)"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from autonomy.baselines import IdleAgent, LookaheadPlanner, RandomAgent

    if args.model:
        policy = _load(args.model)
    elif args.baseline == "planner":
        policy = LookaheadPlanner(args.env, seed=args.seed, depth=args.depth)
    elif args.baseline:
        policy = {"random": RandomAgent, "idle": IdleAgent}[args.baseline](args.env, seed=args.seed)
    else:
        raise ValueError("evaluate needs --model AGENT.keras or --baseline random|idle|planner")
    print(json.dumps(policy.evaluate(args.episodes, seed=args.seed), indent=2))
    return 0


def _record(args: argparse.Namespace) -> int:
    summary = _load(args.model).record(args.output, seed=args.seed, max_steps=args.max_steps)
    print(
        f"wrote {summary['path']}: {summary['frames']} frames, return {summary['return']:.2f}, "
        f"crashed {summary['crashed']}"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    print(f"exported {_load(args.model).export(args.output, version=args.version)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``autonomy`` with its ``dqn`` sub-commands to the top-level parser."""
    autonomy = commands.add_parser(
        "autonomy", help="reinforcement learning for driving (highway-env)"
    )
    tasks = autonomy.add_subparsers(dest="autonomy_task", metavar="TASK", required=True)
    dqn = tasks.add_parser("dqn", help="Double/dueling/n-step DQN agents")
    actions = dqn.add_subparsers(dest="action", metavar="ACTION", required=True)
    envs = ", ".join(HIGHWAY_ENVS)

    train = actions.add_parser("train", help="train (or resume) an agent, saved as .keras")
    train.add_argument("--env", default=DEFAULT_ENV, help=f"environment ({envs}; CartPole-v1)")
    train.add_argument("--steps", type=int, default=20_000, help="env steps to collect")
    train.add_argument("--num-envs", type=int, default=1, help="parallel env worker processes")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--config", help="extra DQNAgent options as JSON, e.g. '{\"n_step\": 1}'")
    train.add_argument("--output", required=True, help="agent file (.keras), also the checkpoint")
    train.add_argument("--checkpoint-every", type=int, default=5000, help="env steps between saves")
    train.add_argument(
        "--save-buffer", action="store_true", help="also checkpoint the replay buffer"
    )
    train.add_argument("--resume", action="store_true", help="continue training --output")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    train.add_argument("--log-dir", help="TensorBoard log folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    evaluate = actions.add_parser("evaluate", help="greedy episodes: return, crash rate, speed")
    evaluate.add_argument("--model", help="agent file written by train")
    evaluate.add_argument(
        "--baseline",
        choices=["random", "idle", "planner"],
        help="evaluate a baseline (planner: lookahead on simulator copies)",
    )
    evaluate.add_argument(
        "--depth", type=int, default=4, help="lookahead steps for --baseline planner"
    )
    evaluate.add_argument("--env", default=DEFAULT_ENV, help="environment for --baseline")
    evaluate.add_argument("--episodes", type=int, default=10)
    evaluate.add_argument("--seed", type=int, default=10_000)
    evaluate.set_defaults(func=_evaluate)

    record = actions.add_parser("record", help="render one greedy episode to a GIF (or MP4)")
    record.add_argument("--model", required=True)
    record.add_argument("--output", required=True, help="a .gif (Pillow) or .mp4 (imageio) path")
    record.add_argument("--seed", type=int, default=0)
    record.add_argument("--max-steps", type=int, default=200)
    record.set_defaults(func=_record)

    export = actions.add_parser("export", help="write a TF Serving SavedModel version")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True, help="model base folder, e.g. models/highway")
    export.add_argument("--version", type=int, help="version number (default: next free)")
    export.set_defaults(func=_export)

"""``dlsuite autonomy dqn|sac train|evaluate|record|export`` (an entry point; sac: ``sac_cli``).

Train options come from ``DQNConfig`` through ``common.task_cli`` (``--env`` is kept as an
alias of ``--env-name``; ``--config JSON`` still adds options, flags win). ``DQNAgent`` is not a
``Task``: it is loaded with ``DQNAgent.load`` and exported with ``agent.export``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import task_cli as cli
from common.task_cli_commands import add_export_command, load, print_json
from common.task_cli_spec import add_train_command

SUMMARY = "reinforcement learning: driving (highway-env DQN), continuous control (SAC + HER)"
AGENT = "autonomy.dqn:DQNAgent"


def _train(args: argparse.Namespace) -> int:
    from autonomy.callbacks import AgentCallback, Checkpoint
    from autonomy.config import DQNConfig
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
            raise cli.UsageError("--config must be a JSON object of DQNAgent options")
        options.update(cli.config_options(args, DQNConfig))
        agent = DQNAgent(**options)
    cli.check_log_dir_and_seed(args)
    callbacks: list[AgentCallback] = [
        Checkpoint(output, every=args.checkpoint_every, include_buffer=args.save_buffer)
    ]
    agent.learn(
        args.steps,
        callbacks=callbacks,
        log_every=0,
        progress_bar=not args.quiet,
        log_dir=args.log_dir,
    )
    print(
        f"saved {output} after {agent.num_timesteps} steps "
        f"({agent.train_steps_per_second:.1f} env-steps/s)"
    )
    return 0


def _build_train(parser: argparse.ArgumentParser) -> None:
    from autonomy.config import DQNConfig
    from autonomy.env import HIGHWAY_ENVS

    group = parser.add_argument_group("training")
    group.add_argument("--steps", type=int, default=20_000, help="env steps to collect")
    group.add_argument(
        "--config", help="extra DQNAgent options as JSON, e.g. '{\"n_step\": 1}' (flags win)"
    )
    cli.add_output_options(group, help="agent file (.keras), also the checkpoint")
    group.add_argument("--checkpoint-every", type=int, default=5000, help="env steps between saves")
    group.add_argument(
        "--save-buffer", action="store_true", help="also checkpoint the replay buffer"
    )
    group.add_argument("--resume", action="store_true", help="continue training --output")
    group.add_argument("--log-dir", help="TensorBoard log folder")
    group.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_config_options(
        parser,
        DQNConfig,
        help={
            "env_name": f"environment ({', '.join(HIGHWAY_ENVS)}; CartPole-v1)",
            "env_config": "highway-env configuration as a JSON object",
            "num_envs": "parallel env worker processes",
            "seed": "seed of the agent, its environments and Python/NumPy/Keras",
        },
        aliases={"env_name": ["--env"]},
    )


def _evaluate(args: argparse.Namespace) -> int:
    from autonomy.baselines import IdleAgent, LookaheadPlanner, RandomAgent
    from autonomy.env import DEFAULT_ENV

    env = args.env or DEFAULT_ENV
    if args.model:
        policy = load(args.model, AGENT)
    elif args.baseline == "planner":
        policy = LookaheadPlanner(env, seed=args.seed, depth=args.depth)
    elif args.baseline:
        policy = {"random": RandomAgent, "idle": IdleAgent}[args.baseline](env, seed=args.seed)
    else:
        raise cli.UsageError("evaluate needs --model AGENT.keras or --baseline random|idle|planner")
    print_json(policy.evaluate(args.episodes, seed=args.seed))
    return 0


def _record(args: argparse.Namespace) -> int:
    agent = load(args.model, AGENT)
    summary = agent.record(args.output, seed=args.seed, max_steps=args.max_steps)
    print(
        f"wrote {summary['path']}: {summary['frames']} frames, return {summary['return']:.2f}, "
        f"crashed {summary['crashed']}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``autonomy`` with its ``dqn`` sub-commands to the top-level parser."""
    _, tasks = cli.add_group(commands, "autonomy", SUMMARY, dest="autonomy_task")
    _, actions = cli.add_group(tasks, "dqn", "Double/dueling/n-step DQN agents", "action")

    add_train_command(actions, "train (or resume) an agent, saved as .keras", _train, _build_train)

    evaluate = actions.add_parser(
        "evaluate",
        help="greedy episodes: return, crash rate, speed",
        description="greedy episodes: return, crash rate, speed",
    )
    evaluate.add_argument("--model", help="agent file written by train")
    evaluate.add_argument(
        "--baseline",
        choices=["random", "idle", "planner"],
        help="evaluate a baseline (planner: lookahead on simulator copies)",
    )
    evaluate.add_argument(
        "--depth", type=int, default=4, help="lookahead steps for --baseline planner"
    )
    evaluate.add_argument("--env", help="environment for --baseline (default: highway-fast-v0)")
    evaluate.add_argument("--episodes", type=int, default=10, help="episodes to play")
    evaluate.add_argument("--seed", type=int, default=10_000, help="seed of the first episode")
    evaluate.set_defaults(func=_evaluate)

    record = actions.add_parser(
        "record",
        help="render one greedy episode to a GIF (or MP4)",
        description="render one greedy episode to a GIF (or MP4)",
    )
    record.add_argument("--model", required=True, help="agent file written by train")
    record.add_argument("--output", required=True, help="a .gif (Pillow) or .mp4 (imageio) path")
    record.add_argument("--seed", type=int, default=0, help="episode seed")
    record.add_argument("--max-steps", type=int, default=200, help="longest episode")
    record.set_defaults(func=_record)

    add_export_command(actions, AGENT, example="models/highway")

    from autonomy.sac_cli import register_sac

    register_sac(tasks)

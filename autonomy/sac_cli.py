"""``dlsuite autonomy sac train|evaluate|record|export``: SAC (+HER) agents on control envs.

Train options come from ``SACConfig`` through ``common.task_cli``; agents are ``.keras`` agent
files (``SACAgent.load``), exported with ``agent.export`` (observation + goal -> action).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import task_cli as cli
from common.task_cli_commands import add_export_command, load, print_json
from common.task_cli_spec import add_train_command

AGENT = "autonomy.sac:SACAgent"


def _train(args: argparse.Namespace) -> int:
    from autonomy.callbacks import AgentCallback, Checkpoint
    from autonomy.sac import SACAgent
    from autonomy.sac_config import SACConfig

    output = Path(args.output)
    if args.resume:
        if not output.is_file():
            raise FileNotFoundError(f"--resume needs an existing agent file, {output} is missing")
        agent = SACAgent.load(output)
        print(f"resuming {output} at step {agent.num_timesteps}")
    else:
        if output.exists() and not args.overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite to replace it or --resume")
        options = json.loads(args.config) if args.config else {}
        if not isinstance(options, dict):
            raise cli.UsageError("--config must be a JSON object of SACAgent options")
        options.update(cli.config_options(args, SACConfig))
        agent = SACAgent(**options)
    cli.check_log_dir_and_seed(args)
    callbacks: list[AgentCallback] = [Checkpoint(output, every=args.checkpoint_every)]
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
    from autonomy.control_env import CONTROL_ENVS
    from autonomy.sac_config import SACConfig

    group = parser.add_argument_group("training")
    group.add_argument("--steps", type=int, default=20_000, help="env steps to collect")
    group.add_argument("--config", help="extra SACAgent options as JSON (flags win)")
    cli.add_output_options(group, help="agent file (.keras), also the checkpoint")
    group.add_argument("--checkpoint-every", type=int, default=5000, help="env steps between saves")
    group.add_argument("--resume", action="store_true", help="continue training --output")
    group.add_argument("--log-dir", help="TensorBoard log folder")
    group.add_argument("--quiet", action="store_true", help="no progress bar")
    cli.add_config_options(
        parser,
        SACConfig,
        help={
            "env_name": f"environment ({', '.join(CONTROL_ENVS)})",
            "env_config": "environment configuration as a JSON object",
            "num_envs": "parallel env worker processes",
            "seed": "seed of the agent, its environments and Python/NumPy/Keras",
        },
        aliases={"env_name": ["--env"]},
    )


def _evaluate(args: argparse.Namespace) -> int:
    print_json(load(args.model, AGENT).evaluate(args.episodes, seed=args.seed))
    return 0


def _record(args: argparse.Namespace) -> int:
    summary = load(args.model, AGENT).record(args.output, seed=args.seed, max_steps=args.max_steps)
    print(f"wrote {summary['path']}: {summary['frames']} frames, return {summary['return']:.2f}")
    return 0


def register_sac(tasks: argparse._SubParsersAction) -> None:
    """Add ``sac`` with its sub-commands under ``autonomy``."""
    _, actions = cli.add_group(tasks, "sac", "SAC (+HER) agents for continuous control", "action")
    add_train_command(actions, "train (or resume) an agent, saved as .keras", _train, _build_train)
    evaluate = actions.add_parser(
        "evaluate", help="deterministic episodes: return, success rate", description="evaluate"
    )
    evaluate.add_argument("--model", required=True, help="agent file written by train")
    evaluate.add_argument("--episodes", type=int, default=10, help="episodes to play")
    evaluate.add_argument("--seed", type=int, default=10_000, help="seed of the first episode")
    evaluate.set_defaults(func=_evaluate)
    record = actions.add_parser(
        "record", help="render one episode to a GIF (or MP4)", description="record"
    )
    record.add_argument("--model", required=True, help="agent file written by train")
    record.add_argument("--output", required=True, help="a .gif (Pillow) or .mp4 (imageio) path")
    record.add_argument("--seed", type=int, default=0, help="episode seed")
    record.add_argument("--max-steps", type=int, default=200, help="longest episode")
    record.set_defaults(func=_record)
    add_export_command(actions, AGENT, example="models/parking")

"""The commands both agent CLIs are built from: ``dlsuite autonomy dqn|sac train|evaluate|record``
(``export`` is ``common``'s).

An agent and its config are named by reference (``"autonomy.dqn:DQNAgent"``) and imported only
when a command runs or its train parser is built, so nothing here imports TensorFlow. ``train``
takes its options from the agent's config dataclass (through ``common.task_cli``; ``--env`` is
an alias of ``--env-name`` and ``--config JSON`` adds options, flags win), writes the agent file
as its own checkpoint and resumes it with ``--resume``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from common import task_cli as cli
from common.task_cli_commands import Options, load, print_json
from common.task_cli_spec import add_train_command

Run = Callable[[argparse.Namespace], int]


@dataclasses.dataclass(frozen=True)
class AgentTrain:
    """One agent's ``train`` command.

    ``envs`` names (``"module:NAME"``) the env names the ``--env`` help lists, followed by
    ``env_note``; ``config_example`` follows "extra AGENT options as JSON" in ``--config``'s help.
    """

    agent: str
    config: str
    envs: str
    env_note: str = ""
    env_config_help: str = "environment configuration as a JSON object"
    config_example: str = ""
    save_buffer: bool = False  # offer --save-buffer (checkpoint the replay buffer too)

    @property
    def agent_name(self) -> str:
        """The agent's class name (``DQNAgent``)."""
        return self.agent.rpartition(":")[2]


def add_agent_train_command(actions: Any, spec: AgentTrain) -> argparse.ArgumentParser:
    """``train``: a new agent (or ``--resume``), saved as ``--output`` while it trains."""
    return add_train_command(
        actions,
        "train (or resume) an agent, saved as .keras",
        partial(_train, spec),
        partial(_build_train, spec),
    )


def _build_train(spec: AgentTrain, parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--steps", type=int, default=20_000, help="env steps to collect")
    group.add_argument(
        "--config",
        help=f"extra {spec.agent_name} options as JSON{spec.config_example} (flags win)",
    )
    cli.add_output_options(group, help="agent file (.keras), also the checkpoint")
    group.add_argument("--checkpoint-every", type=int, default=5000, help="env steps between saves")
    if spec.save_buffer:
        group.add_argument(
            "--save-buffer", action="store_true", help="also checkpoint the replay buffer"
        )
    group.add_argument("--resume", action="store_true", help="continue training --output")
    group.add_argument("--log-dir", help="TensorBoard log folder")
    group.add_argument("--quiet", action="store_true", help="no progress bar")
    envs = ", ".join(cli.import_object(spec.envs))
    cli.add_config_options(
        parser,
        cli.import_object(spec.config),
        help={
            "env_name": f"environment ({envs}{spec.env_note})",
            "env_config": spec.env_config_help,
            "num_envs": "parallel env worker processes",
            "seed": "seed of the agent, its environments and Python/NumPy/Keras",
        },
        aliases={"env_name": ["--env"]},
    )


def _train(spec: AgentTrain, args: argparse.Namespace) -> int:
    from autonomy.callbacks import AgentCallback, Checkpoint

    agent_class = cli.import_object(spec.agent)
    output = Path(args.output)
    if args.resume:
        if not output.is_file():
            raise FileNotFoundError(
                f"--resume needs an existing agent file, {output} does not exist"
            )
        agent = agent_class.load(output)
        print(f"resuming {output} at step {agent.num_timesteps}")
    else:
        if output.exists() and not args.overwrite:
            raise FileExistsError(f"{output} exists; pass --overwrite to replace it or --resume")
        options = json.loads(args.config) if args.config else {}
        if not isinstance(options, dict):
            raise cli.UsageError(f"--config must be a JSON object of {spec.agent_name} options")
        options.update(cli.config_options(args, cli.import_object(spec.config)))
        agent = agent_class(**options)
    cli.check_log_dir_and_seed(args)
    include_buffer = spec.save_buffer and args.save_buffer
    callbacks: list[AgentCallback] = [
        Checkpoint(output, every=args.checkpoint_every, include_buffer=include_buffer)
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


def add_agent_evaluate_command(
    actions: Any,
    agent: str,
    help: str,
    *,
    model_required: bool = True,
    options: Options | None = None,
    run: Run | None = None,
) -> argparse.ArgumentParser:
    """``evaluate --model A.keras [--episodes N] [--seed S]``: the agent's evaluation as JSON.

    ``options`` adds flags (after ``--model``); ``run`` replaces the default handler.
    """
    parser = actions.add_parser("evaluate", help=help, description=help)
    parser.add_argument("--model", required=model_required, help="agent file written by train")
    if options is not None:
        options(parser)
    parser.add_argument("--episodes", type=int, default=10, help="episodes to play")
    parser.add_argument("--seed", type=int, default=10_000, help="seed of the first episode")
    parser.set_defaults(func=run or partial(_evaluate, agent))
    return parser


def _evaluate(agent: str, args: argparse.Namespace) -> int:
    print_json(load(args.model, agent).evaluate(args.episodes, seed=args.seed))
    return 0


def add_agent_record_command(
    actions: Any, agent: str, help: str, fields: tuple[str, ...] = ()
) -> argparse.ArgumentParser:
    """``record --model A.keras --output EPISODE.gif``: one rendered episode; the printed
    summary adds ``fields`` of ``record``'s result (e.g. ``crashed``) after the return."""
    parser = actions.add_parser("record", help=help, description=help)
    parser.add_argument("--model", required=True, help="agent file written by train")
    parser.add_argument("--output", required=True, help="a .gif (Pillow) or .mp4 (imageio) path")
    parser.add_argument("--seed", type=int, default=0, help="episode seed")
    parser.add_argument("--max-steps", type=int, default=200, help="longest episode")
    parser.set_defaults(func=partial(_record, agent, fields))
    return parser


def _record(agent: str, fields: tuple[str, ...], args: argparse.Namespace) -> int:
    summary = load(args.model, agent).record(args.output, seed=args.seed, max_steps=args.max_steps)
    print(
        f"wrote {summary['path']}: {summary['frames']} frames, return {summary['return']:.2f}"
        + "".join(f", {field} {summary[field]}" for field in fields)
    )
    return 0

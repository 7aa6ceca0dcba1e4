"""``dlsuite autonomy dqn|sac train|evaluate|record|export`` (an entry point; sac: ``sac_cli``).

Built from ``autonomy.agent_cli``: train options come from ``DQNConfig`` (``--env`` is kept as
an alias of ``--env-name``; ``--config JSON`` still adds options, flags win). ``DQNAgent`` is not
a ``Task``: it is loaded with ``DQNAgent.load`` and exported with ``agent.export``; ``evaluate``
also scores the baselines.
"""

from __future__ import annotations

import argparse

from autonomy.agent_cli import (
    AgentTrain,
    add_agent_evaluate_command,
    add_agent_record_command,
    add_agent_train_command,
)
from common import task_cli as cli
from common.task_cli_commands import add_export_command, load, print_json

SUMMARY = "reinforcement learning: driving (highway-env DQN), continuous control (SAC + HER)"
AGENT = "autonomy.dqn:DQNAgent"
TRAIN = AgentTrain(
    agent=AGENT,
    config="autonomy.config:DQNConfig",
    envs="autonomy.env:HIGHWAY_ENVS",
    env_note="; CartPole-v1",
    env_config_help="highway-env configuration as a JSON object",
    config_example=", e.g. '{\"n_step\": 1}'",
    save_buffer=True,
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


def _baseline_options(parser: argparse.ArgumentParser) -> None:
    """``evaluate``'s baseline flags: ``--baseline``, its ``--depth`` and ``--env``."""
    parser.add_argument(
        "--baseline",
        choices=["random", "idle", "planner"],
        help="evaluate a baseline (planner: lookahead on simulator copies)",
    )
    parser.add_argument(
        "--depth", type=int, default=4, help="lookahead steps for --baseline planner"
    )
    parser.add_argument("--env", help="environment for --baseline (default: highway-fast-v0)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``autonomy`` with its ``dqn`` sub-commands to the top-level parser."""
    _, tasks = cli.add_group(commands, "autonomy", SUMMARY, dest="autonomy_task")
    _, actions = cli.add_group(tasks, "dqn", "Double/dueling/n-step DQN agents", "action")

    add_agent_train_command(actions, TRAIN)
    add_agent_evaluate_command(
        actions,
        AGENT,
        "greedy episodes: return, crash rate, speed",
        model_required=False,
        options=_baseline_options,
        run=_evaluate,
    )
    add_agent_record_command(
        actions, AGENT, "render one greedy episode to a GIF (or MP4)", fields=("crashed",)
    )
    add_export_command(actions, AGENT, example="models/highway")

    from autonomy.sac_cli import register_sac

    register_sac(tasks)

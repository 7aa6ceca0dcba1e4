"""``dlsuite autonomy sac train|evaluate|record|export``: SAC (+HER) agents on control envs.

Built from ``autonomy.agent_cli``: train options come from ``SACConfig``; agents are ``.keras``
agent files (``SACAgent.load``), exported with ``agent.export`` (observation + goal -> action).
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
from common.task_cli_commands import add_export_command

AGENT = "autonomy.sac:SACAgent"
TRAIN = AgentTrain(
    agent=AGENT, config="autonomy.sac_config:SACConfig", envs="autonomy.control_env:CONTROL_ENVS"
)


def register_sac(tasks: argparse._SubParsersAction) -> None:
    """Add ``sac`` with its sub-commands under ``autonomy``."""
    _, actions = cli.add_group(tasks, "sac", "SAC (+HER) agents for continuous control", "action")
    add_agent_train_command(actions, TRAIN)
    add_agent_evaluate_command(actions, AGENT, "deterministic episodes: return, success rate")
    add_agent_record_command(actions, AGENT, "render one episode to a GIF (or MP4)")
    add_export_command(actions, AGENT, example="models/parking")

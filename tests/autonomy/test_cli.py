"""``dlsuite autonomy dqn train|evaluate|record|export`` through its argparse registration."""

from __future__ import annotations

import argparse
import json

import pytest

from autonomy.cli import register
from tests.autonomy.corridor import CORRIDOR
from tests.cli_helpers import check_export, domain_runner

run = domain_runner(register, dest="command")


def test_train_resume_evaluate_record_export(tmp_path, capsys):
    agent_file = str(tmp_path / "agent.keras")
    config = json.dumps({"hidden_units": [16], "learning_starts": 50, "buffer_size": 500})
    base = ["autonomy", "dqn", "train", "--env", CORRIDOR, "--output", agent_file, "--quiet"]
    assert run(base, "--steps 120 --config", [config], "--log-dir", tmp_path / "tb") == 0
    assert "after 120 steps" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="--overwrite"):
        run(base, "--steps 10")
    assert run(base, "--steps 60 --resume") == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "after 180 steps" in out

    assert run("autonomy dqn evaluate --model", agent_file, "--episodes 2") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["episodes"] == 2 and "crash_rate" in report

    gif = tmp_path / "run.gif"
    assert run("autonomy dqn record --model", agent_file, "--output", gif) == 0
    assert gif.stat().st_size > 0

    check_export(run, "autonomy dqn", agent_file, tmp_path / "models" / "corridor")


def test_baseline_evaluation_and_user_errors(tmp_path, capsys):
    argv = [
        "autonomy",
        "dqn",
        "evaluate",
        "--baseline",
        "idle",
        "--env",
        CORRIDOR,
        "--episodes",
        "1",
    ]
    assert run(argv) == 0
    assert json.loads(capsys.readouterr().out)["mean_length"] == 20  # IDLE never reaches the goal
    argv = [
        "autonomy",
        "dqn",
        "evaluate",
        "--baseline",
        "planner",
        "--depth",
        "8",
        "--env",
        CORRIDOR,
        "--episodes",
        "1",
    ]
    assert run(argv) == 0
    assert json.loads(capsys.readouterr().out)["mean_length"] == 7  # straight to the goal
    with pytest.raises(ValueError, match="--model"):
        run("autonomy dqn evaluate")
    with pytest.raises(ValueError, match="unknown environment 'nope-v0'"):
        run("autonomy dqn train --env nope-v0 --output", tmp_path / "a.keras")
    with pytest.raises(FileNotFoundError, match="--resume"):
        run("autonomy dqn train --resume --output", tmp_path / "missing.keras")


def test_train_options_come_from_dqn_config_with_env_as_an_alias(tmp_path):
    from autonomy.config import DQNConfig
    from common.task_cli import config_options

    parser = argparse.ArgumentParser(prog="dlsuite")
    register(parser.add_subparsers(dest="command", required=True))
    base = ["autonomy", "dqn", "train", "--output", str(tmp_path / "a.keras")]
    args = parser.parse_args(
        [*base, "--env", CORRIDOR, "--n-step", "1", "--hidden-units", "16,16", "--no-dueling"]
    )
    assert config_options(args, DQNConfig) == {
        "env_name": CORRIDOR,
        "n_step": 1,
        "hidden_units": [16, 16],
        "dueling": False,
    }
    assert config_options(parser.parse_args(base), DQNConfig) == {}  # defaults: DQNConfig's
    assert parser.parse_args([*base, "--env-name", CORRIDOR]).env_name == CORRIDOR
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--step", "10"])  # abbreviation of --steps

"""``dlsuite autonomy sac train|evaluate|record|export`` on the tiny Steer env."""

from __future__ import annotations

import json

import pytest

from autonomy.cli import register
from tests.autonomy.control_envs import STEER
from tests.cli_helpers import check_export, domain_runner

run = domain_runner(register, dest="command")


def test_sac_train_resume_evaluate_record_export(tmp_path, capsys):
    agent_file = str(tmp_path / "sac.keras")
    config = json.dumps({"hidden_units": [8], "batch_size": 16})
    base = ["autonomy", "sac", "train", "--env", STEER, "--output", agent_file, "--quiet"]
    assert run(base, "--steps 60 --learning-starts 20 --config", [config]) == 0
    assert "after 60 steps" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="--overwrite"):
        run(base, "--steps 10")
    assert run(base, "--steps 20 --resume") == 0
    assert "after 80 steps" in capsys.readouterr().out

    assert run("autonomy sac evaluate --model", agent_file, "--episodes 2") == 0
    assert json.loads(capsys.readouterr().out)["mean_length"] == 5

    gif = tmp_path / "steer.gif"
    assert run("autonomy sac record --model", agent_file, "--output", gif) == 0
    assert gif.stat().st_size > 0
    check_export(run, "autonomy sac", agent_file, tmp_path / "models" / "steer")
    with pytest.raises(ValueError, match="unknown environment 'nope-v0'"):
        run("autonomy sac train --env nope-v0 --output", tmp_path / "a.keras")

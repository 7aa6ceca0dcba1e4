"""``dlsuite health molecules ...`` and the molecules pipeline at smoke size."""

from __future__ import annotations

import json

import pytest

from common.task_cli import UsageError
from health import cli
from tests.cli_helpers import check_export, domain_runner

run = domain_runner(cli.register, dest="command")
TINY = "--hidden 16 --ffn-hidden 16 --depth 2 --batch-size 16"


def test_molecules_cycle(tmp_path, capsys):
    model = tmp_path / "mol.keras"
    assert (
        run("health molecules train --data builtin:molecules --epochs 2 --output", model, TINY) == 0
    )
    assert "validation ROC-AUC" in capsys.readouterr().out
    assert run("health molecules evaluate --json --model", model, "--data builtin:molecules") == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["per_task"]) == {"carboxylic_acid", "aromatic"}
    assert report["num_invalid"] == 0 and report["num_evaluated"] == 80
    assert run("health molecules predict --json --model", model, "CCC(=O)O") == 0
    line = json.loads(capsys.readouterr().out)
    assert line["smiles"] == "CCC(=O)O" and set(line["probabilities"]) == set(report["per_task"])
    with pytest.raises(ValueError, match="cannot parse the SMILES 'C1CC'"):
        run("health molecules predict --model", model, "C1CC")
    out_dir = tmp_path / "pictures"
    for _ in range(2):  # a second run never replaces the first pictures
        assert run("health molecules explain --model", model, "--output-dir", out_dir, "CCO") == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["molecule_000.png", "molecule_001.png"]
    check_export(run, "health molecules", model, tmp_path / "export")


def test_csv_training_needs_tasks_and_real_columns(tmp_path, capsys):
    from health.molecules import make_molecules

    molecules = make_molecules(60, seed=0)
    rows = [f"{s},{int(y)}" for s, y in zip(molecules.smiles, molecules.labels[:, 1], strict=True)]
    csv = tmp_path / "mols.csv"
    csv.write_text("smiles,aromatic\n" + "\n".join(rows) + "\nnot-a-smiles,1\n")
    model = tmp_path / "csv.keras"
    with pytest.raises(UsageError, match="--tasks"):
        run("health molecules train --data", csv, "--output", model)
    with pytest.raises(ValueError, match=r"no column\(s\) \['logp'\]"):
        run("health molecules train --data", csv, "--tasks logp --output", model)
    args = ("health molecules train --data", csv, "--tasks aromatic --epochs 1 --output", model)
    assert run(*args, TINY) == 0
    out = capsys.readouterr().out
    assert "scaffold split:" in out and "validation ROC-AUC" in out


def test_molecules_pipeline_smoke(tmp_path):
    from health import pipelines

    summary = pipelines.molecules(
        quick=True,
        models_dir=tmp_path / "models",
        reports_dir=tmp_path / "reports",
        epochs=1,
        train_cases=48,
    )
    assert summary["export_agrees"] == 1.0 and summary["invalid_smiles"] == 0
    assert (tmp_path / "reports" / "health_molecules" / "attributions.png").stat().st_size > 0
    assert (tmp_path / "models" / "health_molecules" / "1" / "saved_model.pb").is_file()
    assert summary["request"] == {"smiles": ["CCC(=O)O", "c1ccccc1O"]}

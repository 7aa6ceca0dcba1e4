"""``dlsuite health molecules train|evaluate|predict|export|explain``: molecular properties
from SMILES (registered by ``health.cli``).

``--data`` is a CSV with a SMILES column (``--smiles-column``, default ``smiles``) and one
numeric column per ``--tasks`` name (blank = missing label), or ``builtin:molecules`` (the
generated set; ``builtin:molecules:regression`` for the regression one). Without ``--val-data``
a CSV is split by Bemis-Murcko scaffold, 90 / 10, and the 10 % drives early stopping.
Nothing here imports TensorFlow or RDKit until a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

PREDICTOR = "health.molecules.task:MoleculePropertyPredictor"
DATA_HELP = (
    "a CSV with a SMILES column and the --tasks label columns, or 'builtin:molecules' "
    "('builtin:molecules:regression' for the regression set)"
)
BUILTINS = ("molecules",)


def molecule_data(spec: str, part: str, tasks: list[str], smiles_column: str) -> Any:
    """Data spec -> a MoleculeSet (built-ins: fixed seeds per part)."""
    data = cli.parse_data_spec(spec, BUILTINS)
    if data.kind == "builtin":
        from health.molecules.data import make_molecules

        kind = data.arg or "classification"
        if kind not in ("classification", "regression"):
            raise cli.UsageError(f"{spec!r}: the built-in set is classification or regression")
        return make_molecules(240 if part == "train" else 80, seed=0 if part == "train" else 1,
                              kind=kind)  # fmt: skip
    if data.kind == "tfds" or not (data.path.is_file() and spec.endswith(".csv")):
        raise cli.UsageError(f"data {spec!r} is not a CSV file ({DATA_HELP})")
    from health.molecules.data import read_molecule_csv

    return read_molecule_csv(data.path, tasks, smiles_column)


def _train(args: argparse.Namespace) -> int:
    from health.molecules.data import BUILTIN_TASKS
    from health.molecules.splits import scaffold_split
    from health.molecules.task import MoleculePropertyPredictor

    output = cli.start_training(args)
    config = MoleculePropertyPredictor.config_class
    options = cli.config_options(args, config)
    if args.data.startswith("builtin:"):
        kind = cli.parse_data_spec(args.data, BUILTINS).arg or "classification"
        options.setdefault("tasks", BUILTIN_TASKS.get(kind, ["label"]))
        options.setdefault("task_type", kind)
    elif "tasks" not in options:
        raise cli.UsageError("name the label column(s) of the CSV with --tasks")
    tasks = list(options["tasks"])
    smiles_column = cli.config_value(args, config, "smiles_column")
    data = molecule_data(args.data, "train", tasks, smiles_column)
    val_spec = cli.validation_spec(args)
    if val_spec:
        val = molecule_data(val_spec, "val", tasks, smiles_column)
    else:  # a CSV without --val-data: hold out 10 % by scaffold
        train_rows, val_rows, _ = scaffold_split(data.smiles, (0.9, 0.1, 0.0), seed=args.seed or 0)
        data, val = data.subset(train_rows), data.subset(val_rows)
        print(f"scaffold split: {len(data)} training, {len(val)} validation molecules")
    task = MoleculePropertyPredictor(**options)
    return cli.finish_training(task, args, output, data, val, _summary)


def _summary(report: Any) -> str:
    skipped = f" ({report['num_invalid']} invalid SMILES skipped)" if report["num_invalid"] else ""
    if "roc_auc" in report:
        metrics = f"ROC-AUC {report['roc_auc']:.4f}, PR-AUC {report['pr_auc']:.4f}"
    else:
        metrics = f"RMSE {report['rmse']:.4f}, MAE {report['mae']:.4f}"
    return f"validation {metrics} on {report['num_evaluated']} molecules{skipped}"


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    return molecule_data(args.data, args.part, task.tasks, task.config.smiles_column)


def _describe(smiles: str, result: dict[str, Any]) -> str:
    values = result.get("probabilities") or result.get("values") or {}
    return f"{smiles}: " + ", ".join(f"{k} {v:.3f}" for k, v in values.items())


def _explain(args: argparse.Namespace) -> int:
    from pathlib import Path

    from common.task_cli_commands import load
    from health.molecules.draw import draw_attributions

    task = load(args.model, PREDICTOR)
    folder, number = Path(args.output_dir), 0
    for smiles in args.inputs:
        while (folder / f"molecule_{number:03d}.png").exists():  # never replace a picture
            number += 1
        path = folder / f"molecule_{number:03d}.png"
        result = draw_attributions(task, smiles, path, target=args.target)
        print(f"{smiles}: {result['task']} {result['prediction']:.3f} -> {path}")
    return 0


MOLECULES = TaskCommands(
    "molecules",
    "molecular property prediction from SMILES (D-MPNN message passing)",
    PREDICTOR,
    noun="predictor",
    train=TrainCommand(
        _train,
        DATA_HELP,
        epochs=30,
        data_dir=False,
        config_help={
            "tasks": "label columns of the CSV (default for built-ins: theirs)",
            "hidden": "message-passing width",
            "depth": "message-passing steps",
            "max_atoms": "refuse molecules with more heavy atoms than this",
            "molecule_features": "rdkit_2d adds all RDKit 2D descriptors to the readout",
            "ensemble_size": "average this many independently trained models",
        },
        choices={
            "task_type": ("classification", "regression"),
            "readout": ("mean", "sum", "attention"),
            "molecule_features": ("basic", "rdkit_2d"),
        },
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "ROC-AUC / PR-AUC or RMSE / MAE per task, and the invalid SMILES skipped",
        "details": ("per_task", "invalid"),
        "part_help": "part of a built-in set",
    },
    predict={
        "help": "properties of molecules given as SMILES",
        "describe": _describe,
        "inputs_help": "SMILES strings (quote them in the shell)",
        "input_key": "smiles",
    },
    export={"example": "models/bbbp"},
)


def register(tasks: Any) -> None:
    """Add ``molecules`` (train / evaluate / predict / export / explain) to health's tasks."""
    actions = add_task_commands(tasks, MOLECULES)
    explain = actions.add_parser(
        "explain",
        help="PNG pictures of per-atom attributions",
        description="PNG pictures of per-atom attributions",
    )
    explain.add_argument("--model", required=True, help="a .keras file written by train")
    explain.add_argument("--output-dir", required=True, help="where the PNGs go")
    explain.add_argument("--target", help="task to explain (default: the first)")
    explain.add_argument("inputs", nargs="+", metavar="SMILES", help="SMILES strings")
    explain.set_defaults(func=_explain)

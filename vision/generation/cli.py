"""``dlsuite vision generate train|evaluate|predict|export``: class-conditional image generation
(``vision.ImageGenerator``) on ``builtin:digits``, ``builtin:two_modes`` or a Fashion-MNIST
folder; ``predict`` samples one image per CLASS argument ("random": any class) and writes PNGs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

TASK = "vision.generation.task:ImageGenerator"
BUILTINS = ("digits", "two_modes")
DATA_HELP = "'builtin:digits', 'builtin:two_modes' or a folder holding Fashion-MNIST IDX files"


def resolve_data(spec: str, part: str, classes: Any = None) -> tuple[Any, list[str]]:
    """A data spec -> ((images, labels), class names); built-in sets split 80/20 (fixed seed)."""
    from common.data import train_val_split

    data = cli.parse_data_spec(spec, BUILTINS)
    if data.kind == "builtin":
        from vision.data import load_digits
        from vision.generation.data import make_two_modes

        arrays = load_digits() if data.name == "digits" else make_two_modes(512, 16)
    elif data.kind == "path" and data.path.is_dir():
        from vision.generation.data import load_fashion_mnist

        try:
            arrays = load_fashion_mnist(data.path)
        except ValueError as error:
            raise cli.UsageError(str(error)) from error
    else:
        raise cli.UsageError(f"data {spec!r} is not one of: {DATA_HELP}")
    train, val = train_val_split(arrays.images, arrays.labels, 0.2, seed=0)
    return (train if part == "train" else val), arrays.class_names


def _train(args: argparse.Namespace) -> int:
    from vision.generation.task import ImageGenerator

    return cli.train_with_classes(
        args, ImageGenerator, resolve_data, "FID {fid:.2f}, KID {kid:.4f} (pixel features)"
    )


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    return resolve_data(args.data, args.part)[0]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="first sampling seed")
    parser.add_argument("--steps", type=int, default=None, help="DDIM steps (default: config)")
    parser.add_argument("--output-dir", type=Path, default=None, help="write one PNG per image")


def _predict(task: Any, inputs: list[str], args: argparse.Namespace) -> list[Any]:
    requests = [
        {"class": None if name == "random" else name, "seed": args.seed + i, "steps": args.steps}
        for i, name in enumerate(inputs)
    ]
    try:
        return task.predict(requests)
    except ValueError as error:
        raise cli.UsageError(str(error)) from error


def _write(args: argparse.Namespace, task: Any, inputs: list[Any], results: list[Any]) -> None:
    if args.output_dir is None:
        return
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for i, result in enumerate(results):
        path = args.output_dir / f"{i:03d}_{result['class'] or 'image'}.png"
        path.write_bytes(result["png"])
        print(f"wrote {path}")


def _describe(name: str, result: dict[str, Any]) -> str:
    return f"{name}: a {result['class'] or 'sample'} image {result['image'].shape}"


GENERATE = TaskCommands(
    "generate",
    "image generation (VAE, WGAN-GP, DDIM)",
    TASK,
    noun="generator",
    train=TrainCommand(
        _train,
        DATA_HELP,
        config_help={"classes": "class names (default: the data's)"},
        choices={"architecture": "vision.generation.task:ARCHITECTURES"},
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "FID / KID on pixel features against the validation images",
        "details": (),
    },
    predict={
        "help": "sample one image per CLASS ('random': any class)",
        "describe": _describe,
        "inputs_help": "class names, or 'random'",
        "input_key": "class",
        "options": _options,
        "predict": _predict,
        "after": _write,
    },
    export={"example": "models/fashion_generator"},
)


def register(tasks: Any) -> None:
    """Add ``generate`` to ``dlsuite vision``."""
    add_task_commands(tasks, GENERATE)

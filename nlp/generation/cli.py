"""``dlsuite nlp generate train|evaluate|sample|export`` (added to ``dlsuite nlp``).

Built on ``common.task_cli`` (imports nothing from ``nlp.cli``). ``sample`` (alias ``predict``)
continues prompts; its sampling flags, and those of ``export``, default to the model's config.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

TASK = "nlp.generation:TextGenerator"
DATA_HELP = (
    "plain text: a UTF-8 file (.txt, .gz), a folder of .txt/.md files, 'tfds:NAME[:SPLIT]' "
    "(a TFDS set with a 'text' feature, e.g. tiny_shakespeare) or 'builtin:synthetic' "
    "(template sentences)"
)
SAMPLING_FLAGS = ("max_length", "temperature", "top_k", "top_p", "seed", "greedy")


def resolve_text(spec: str, part: str, args: argparse.Namespace) -> str:
    """A data spec -> one text; the built-in set uses seed 0 for train and 1 otherwise."""
    from nlp.generation import data as data_lib

    data = cli.parse_data_spec(spec, ("synthetic",))
    if data.kind == "builtin":
        return data_lib.make_synthetic_text(
            400 if part == "train" else 60, 0 if part == "train" else 1
        )
    if data.kind == "tfds":
        split = data.arg or ("train" if part == "train" else "validation")
        return data_lib.load_tfds_text_corpus(data.name, split, getattr(args, "data_dir", None))
    return data_lib.load_text(data.path)


def _sampling(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in SAMPLING_FLAGS if getattr(args, name) is not None}


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-length", type=int, help="characters to generate")
    parser.add_argument("--temperature", type=float, help="sampling temperature (> 0)")
    parser.add_argument("--top-k", type=int, help="sample from the k most likely (0: all)")
    parser.add_argument("--top-p", type=float, help="nucleus: smallest set reaching p, in (0, 1]")
    parser.add_argument("--seed", type=int, help="sampling seed (same seed, same text)")
    parser.add_argument(
        "--greedy",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="arg-max decoding instead of sampling",
    )


def _train(args: argparse.Namespace) -> int:
    from nlp.generation import TextGenerator

    output = cli.start_training(args)
    train, val = cli.load_train_val(args, lambda spec, part: resolve_text(spec, part, args))
    task = TextGenerator(**cli.config_options(args, TextGenerator.config_class))
    summary = "validation loss {loss_per_character:.4f} nats/char ({bits_per_character:.3f} bits)"
    return cli.finish_training(task, args, output, train, val, summary)


def _describe(prompt: str, result: dict[str, Any]) -> str:
    return f"{prompt}{result['text']}"


def _sample(task: Any, prompts: list[str], args: argparse.Namespace) -> list[Any]:
    return task.predict(prompts, **_sampling(args))


GENERATE = TaskCommands(
    "generate",
    "language modelling and text generation (decoder-only transformer, characters)",
    TASK,
    noun="generator",
    train=TrainCommand(
        _train,
        DATA_HELP,
        config_help={
            "windows_per_epoch": "random training windows per epoch (0: text length / context)",
            "max_length": "default characters to generate (0: half the context)",
            "temperature": "default sampling temperature",
            "precision": "float32 or mixed_bfloat16 (faster on CPUs with AMX / BF16)",
        },
        choices={"vocabulary": ("char",), "precision": ("float32", "mixed_bfloat16")},
    ),
    evaluate={
        "resolve": lambda args, task: resolve_text(args.data, "val", args),
        "help": "loss per character and per token, perplexity, bits per character",
        "details": (),
        "parts": None,
    },
    predict={
        "name": "sample",
        "aliases": ("predict",),
        "help": "continue prompts (sampling in the same graph as the export)",
        "describe": _describe,
        "inputs_help": "prompts to continue",
        "input_key": "prompt",
        "options": _sampling_options,
        "predict": _sample,
    },
    export={
        "example": "models/generator",
        "help": "write a TF Serving SavedModel version (prompt in, text out; sampling fixed "
        "by the flags, plus a 'sample' signature taking them as inputs)",
        "options": _sampling_options,
        "export_kwargs": _sampling,
    },
)


def add_commands(tasks: argparse._SubParsersAction) -> None:
    """Add the ``generate`` task and its actions to the ``dlsuite nlp`` task sub-parsers."""
    add_task_commands(tasks, GENERATE)

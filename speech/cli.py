"""``dlsuite speech asr train|evaluate|transcribe|export`` and ``dlsuite speech speakers ...``
(an entry point).

Built on ``common.task_cli``; ``transcribe`` is the task's predict action (``predict`` is an
alias of it).
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

SUMMARY = "speech recognition and speaker recognition"
TASK = "speech.asr:SpeechRecognizer"
DECODERS = ("greedy", "beam")  # speech.decoding.DECODERS (a test keeps them equal)
DATA_HELP = (
    "a folder (manifest.csv with path,transcript or LibriSpeech *.trans.txt), a manifest CSV, "
    "'builtin:synthetic[:COUNT]' or 'tfds:librispeech|speech_commands[:SPLIT]'"
)


def resolve_data(
    spec: str, part: str = "train", data_dir: str | None = None, sample_rate: int = 8000
) -> Any:
    """A data spec -> ``Utterances``; built-in sets use seed 0 for train and seed 1 for val."""
    from speech import data as data_lib

    data = cli.parse_data_spec(spec, ("synthetic",))
    if data.kind == "builtin":
        if data.arg and not data.arg.isdigit():
            raise cli.UsageError(f"{spec!r}: the count after builtin:synthetic: is a number")
        default = 400 if part == "train" else 50
        return data_lib.make_utterances(
            int(data.arg) if data.arg else default,
            sample_rate=sample_rate,
            seed=0 if part == "train" else 1,
        )
    if data.kind == "tfds":
        split = data.arg or ("validation" if part == "val" else "train")
        return data_lib.load_tfds_speech(data.name, split, data_dir)
    if data.path.is_file():
        return data_lib.load_manifest(data.path)
    if data.path.is_dir():
        return data_lib.load_audio_folder(data.path)
    raise cli.UsageError(
        f"data {spec!r} is neither a file, a folder nor a builtin:/tfds: name ({DATA_HELP})"
    )


def _train(args: argparse.Namespace) -> int:
    from speech.asr import SpeechRecognizer

    output = cli.start_training(args)
    config = SpeechRecognizer.config_class
    sample_rate = cli.config_value(args, config, "sample_rate")
    data = resolve_data(args.data, "train", args.data_dir, sample_rate)
    val = None
    if args.val_data:
        val = resolve_data(args.val_data, "val", args.data_dir, sample_rate)
    elif args.data.startswith("builtin:"):
        val = resolve_data("builtin:synthetic", "val", sample_rate=sample_rate)
    task = SpeechRecognizer(**cli.config_options(args, config))
    summary = "validation WER {wer:.4f}, CER {cer:.4f}, RTF {rtf:.4f}"
    return cli.finish_training(task, args, output, data, val, summary)


def _decoder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--decoder", choices=DECODERS, help="CTC decoding (default: the model's)")
    parser.add_argument("--phrases", help="comma-separated allowed transcripts (a command grammar)")
    parser.add_argument("--words", help="comma-separated word list: each word snaps to the nearest")


def _decoder_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.decoder:
        options["decoder"] = args.decoder
    if args.phrases is not None:
        options["phrases"] = cli.split_list(args.phrases)
    if args.words is not None:
        options["words"] = cli.split_list(args.words)
    return options


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    task.configure_decoder(**_decoder_options(args))
    return resolve_data(args.data, args.part, args.data_dir, task.config.sample_rate)


def _transcribe(task: Any, inputs: list[Any], args: argparse.Namespace) -> list[Any]:
    return task.configure_decoder(**_decoder_options(args)).predict(inputs)


ASR = TaskCommands(
    "asr",
    "CTC speech recognition (WAV -> text)",
    TASK,
    noun="recogniser",
    train=TrainCommand(
        _train,
        DATA_HELP,
        epochs=20,
        config_help={
            "alphabet": "output characters (default: those of the transcripts)",
            "sample_rate": "the model's rate; input is resampled",
            "num_bins": "mel bins (or MFCCs)",
            "spec_augment": "SpecAugment time and frequency masks while training",
            "decoder": "CTC decoding",
            "phrases": "allowed transcripts (a command grammar)",
            "words": "word list: each decoded word snaps to the nearest",
        },
        choices={
            "feature_type": "speech.features:FEATURE_TYPES",
            "rnn_type": "speech.model:RNN_TYPES",
            "decoder": DECODERS,
        },
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "WER, CER and real-time factor",
        "details": ("examples",),
        "part_help": "for builtin: data, the validation (seed 1) or training (seed 0) set",
        "options": _decoder_arguments,
    },
    predict={
        "name": "transcribe",
        "aliases": ("predict",),
        "help": "transcribe audio files",
        "describe": lambda path, r: f"{path}\t{r['transcript']}\t{r['score']:.3f}",
        "inputs_help": "audio files (WAV; FLAC/OGG through soundfile)",
        "input_key": "audio",
        "options": _decoder_arguments,
        "predict": _transcribe,
    },
    export={"example": "models/asr"},
)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``speech`` with its ``asr`` sub-commands to the top-level parser."""
    from speech.speakers.cli import register as register_speakers

    _, tasks = cli.add_group(commands, "speech", SUMMARY, dest="speech_task")
    add_task_commands(tasks, ASR)
    register_speakers(tasks)  # dlsuite speech speakers ... (speech/speakers/cli.py)

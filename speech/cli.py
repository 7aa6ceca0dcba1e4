"""``dlsuite speech asr train|evaluate|transcribe|export`` (an entry point).

Built on ``common.task_cli``; ``transcribe`` is the task's predict action (``predict`` is an
alias of it).
"""

from __future__ import annotations

import argparse
from typing import Any

from common import task_cli as cli
from common.task_cli_commands import add_evaluate_command, add_export_command, add_predict_command

SUMMARY = "speech recognition"
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
    cli.fit(task, args, data, val)
    cli.save(task, output)
    if val is not None:
        report = task.evaluate(val)
        print(
            f"validation WER {report['wer']:.4f}, CER {report['cer']:.4f}, RTF {report['rtf']:.4f}"
        )
    return 0


def _build_train(parser: argparse.ArgumentParser) -> None:
    from speech.asr import SpeechRecognizer
    from speech.features import FEATURE_TYPES
    from speech.model import RNN_TYPES

    cli.add_train_options(parser, DATA_HELP, epochs=20)
    cli.add_config_options(
        parser,
        SpeechRecognizer.config_class,
        help={
            "alphabet": "output characters (default: those of the transcripts)",
            "sample_rate": "the model's rate; input is resampled",
            "num_bins": "mel bins (or MFCCs)",
            "spec_augment": "SpecAugment time and frequency masks while training",
            "decoder": "CTC decoding",
            "phrases": "allowed transcripts (a command grammar)",
            "words": "word list: each decoded word snaps to the nearest",
        },
        choices={"feature_type": FEATURE_TYPES, "rnn_type": RNN_TYPES, "decoder": DECODERS},
    )


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


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``speech`` with its ``asr`` sub-commands to the top-level parser."""
    _, tasks = cli.add_group(commands, "speech", SUMMARY, dest="speech_task")
    _, actions = cli.add_group(tasks, "asr", "CTC speech recognition (WAV -> text)", "action")
    actions.add_parser(
        "train",
        help="train a recogniser and save it as .keras",
        description="train a recogniser and save it as .keras",
        builder=_build_train,
    ).set_defaults(func=_train)
    add_evaluate_command(
        actions,
        TASK,
        data_help=DATA_HELP,
        resolve=_evaluate_data,
        help="WER, CER and real-time factor",
        details=("examples",),
        part_help="for builtin: data, the validation (seed 1) or training (seed 0) set",
        options=_decoder_arguments,
    )
    add_predict_command(
        actions,
        TASK,
        name="transcribe",
        aliases=("predict",),
        help="transcribe audio files",
        describe=lambda path, r: f"{path}\t{r['transcript']}\t{r['score']:.3f}",
        inputs_help="audio files (WAV; FLAC/OGG through soundfile)",
        input_key="audio",
        options=_decoder_arguments,
        predict=_transcribe,
    )
    add_export_command(actions, TASK, example="models/asr")

"""``dlsuite speech asr train|evaluate|transcribe|export`` (registered through an entry point)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common.task import load_task
from speech import data as data_lib
from speech.asr import SpeechRecognizer
from speech.decoding import DECODERS
from speech.features import FEATURE_TYPES
from speech.model import RNN_TYPES

DATA_HELP = (
    "a folder (manifest.csv with path,transcript or LibriSpeech *.trans.txt), a manifest CSV, "
    "'builtin:synthetic[:COUNT]' or 'tfds:librispeech|speech_commands[:SPLIT]'"
)


def resolve_data(
    spec: str, part: str = "train", data_dir: str | None = None, sample_rate: int = 8000
):
    """A data spec -> ``Utterances``; built-in sets use seed 0 for train and seed 1 for val."""
    if spec.startswith("builtin:"):
        name, _, count = spec.removeprefix("builtin:").partition(":")
        if name != "synthetic":
            raise ValueError(
                f"unknown built-in dataset {name!r}; the built-in speech set is 'synthetic'"
            )
        default = 400 if part == "train" else 50
        return data_lib.make_utterances(
            int(count) if count else default,
            sample_rate=sample_rate,
            seed=0 if part == "train" else 1,
        )
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        return data_lib.load_tfds_speech(
            name, split or ("validation" if part == "val" else "train"), data_dir
        )
    path = Path(spec)
    if path.is_file():
        return data_lib.load_manifest(path)
    if path.is_dir():
        return data_lib.load_audio_folder(path)
    raise ValueError(
        f"data {spec!r} is neither a file, a folder nor a builtin:/tfds: name ({DATA_HELP})"
    )


def _split_list(text: str | None) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()] if text else []


def _train(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    data = resolve_data(args.data, "train", args.data_dir, args.sample_rate)
    val = None
    if args.val_data:
        val = resolve_data(args.val_data, "val", args.data_dir, args.sample_rate)
    elif args.data.startswith("builtin:"):
        val = resolve_data(
            args.data.split(":")[0] + ":synthetic", "val", sample_rate=args.sample_rate
        )
    task = SpeechRecognizer(
        alphabet=args.alphabet or "",
        sample_rate=args.sample_rate,
        feature_type=args.feature_type,
        num_bins=args.num_bins,
        rnn_type=args.rnn_type,
        rnn_units=args.rnn_units,
        rnn_layers=args.rnn_layers,
        spec_augment=not args.no_spec_augment,
        decoder=args.decoder,
        phrases=_split_list(args.phrases),
        words=_split_list(args.words),
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
    )
    task.fit(
        data,
        validation_data=val,
        epochs=args.epochs,
        work_dir=args.work_dir,
        resume=args.resume,
        patience=args.patience,
        strategy=args.strategy,
        verbose=2,
    )
    task.save(output)
    print(f"saved {output}")
    if val is not None:
        report = task.evaluate(val)
        print(
            f"validation WER {report['wer']:.4f}, CER {report['cer']:.4f}, RTF {report['rtf']:.4f}"
        )
    return 0


def _load(path: str) -> SpeechRecognizer:
    task = load_task(path)
    if not isinstance(task, SpeechRecognizer):
        raise ValueError(f"{path} holds a {type(task).__name__}, not a SpeechRecognizer")
    return task


def _decoder_options(args: argparse.Namespace) -> dict:
    options = {}
    if args.decoder:
        options["decoder"] = args.decoder
    if args.phrases is not None:
        options["phrases"] = _split_list(args.phrases)
    if args.words is not None:
        options["words"] = _split_list(args.words)
    return options


def _evaluate(args: argparse.Namespace) -> int:
    task = _load(args.model).configure_decoder(**_decoder_options(args))
    data = resolve_data(args.data, args.part, args.data_dir, task.config.sample_rate)
    report = task.evaluate(data)
    summary = {k: v for k, v in report.items() if k != "examples"}
    print(json.dumps(report if args.json else summary, indent=2))
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    task = _load(args.model).configure_decoder(**_decoder_options(args))
    for path, result in zip(args.audio, task.predict(args.audio), strict=True):
        print(f"{path}\t{result['transcript']}\t{result['score']:.3f}")
    return 0


def _export(args: argparse.Namespace) -> int:
    task = _load(args.model)
    print(f"exported {task.export(args.output, version=args.version)}")
    return 0


def _add_decoder_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument("--decoder", choices=DECODERS, default=default, help="CTC decoding")
    parser.add_argument("--phrases", help="comma-separated allowed transcripts (a command grammar)")
    parser.add_argument("--words", help="comma-separated word list: each word snaps to the nearest")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``speech`` with its ``asr`` sub-commands to the top-level parser."""
    speech = commands.add_parser("speech", help="speech recognition")
    tasks = speech.add_subparsers(dest="speech_task", metavar="TASK", required=True)
    asr = tasks.add_parser("asr", help="CTC speech recognition (WAV -> text)")
    actions = asr.add_subparsers(dest="action", metavar="ACTION", required=True)

    train = actions.add_parser("train", help="train a recogniser and save it as .keras")
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument("--val-data", help="validation data (same forms as --data)")
    train.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    train.add_argument("--alphabet", help="output characters (default: those of the transcripts)")
    train.add_argument(
        "--sample-rate", type=int, default=16000, help="the model's rate; input is resampled"
    )
    train.add_argument("--feature-type", choices=FEATURE_TYPES, default="log_mel")
    train.add_argument("--num-bins", type=int, default=80, help="mel bins (or MFCCs)")
    train.add_argument("--rnn-type", choices=RNN_TYPES, default="gru")
    train.add_argument("--rnn-units", type=int, default=128)
    train.add_argument("--rnn-layers", type=int, default=2)
    train.add_argument("--no-spec-augment", action="store_true", help="disable SpecAugment")
    _add_decoder_arguments(train, "greedy")
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--learning-rate", type=float, default=2e-3)
    train.add_argument("--patience", type=int, help="early stopping patience in epochs")
    train.add_argument(
        "--work-dir", help="checkpoint folder; an interrupted run resumes with --resume"
    )
    train.add_argument("--resume", action="store_true")
    train.add_argument(
        "--strategy",
        default="auto",
        choices=["auto", "mirrored", "multi_worker"],
        help="tf.distribute strategy (multi_worker reads TF_CONFIG)",
    )
    train.add_argument("--output", required=True, help="where to save the .keras file")
    train.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    train.set_defaults(func=_train)

    evaluate = actions.add_parser("evaluate", help="WER, CER and real-time factor")
    evaluate.add_argument("--model", required=True, help="a .keras file written by train")
    evaluate.add_argument("--data", required=True, help=DATA_HELP)
    evaluate.add_argument(
        "--part",
        choices=["val", "train"],
        default="val",
        help="for builtin: data, the validation (seed 1) or training (seed 0) set",
    )
    evaluate.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    evaluate.add_argument("--json", action="store_true", help="also print example transcripts")
    _add_decoder_arguments(evaluate, None)
    evaluate.set_defaults(func=_evaluate)

    transcribe = actions.add_parser("transcribe", help="transcribe audio files")
    transcribe.add_argument("--model", required=True)
    _add_decoder_arguments(transcribe, None)
    transcribe.add_argument(
        "audio", nargs="+", help="audio files (WAV; FLAC/OGG through soundfile)"
    )
    transcribe.set_defaults(func=_transcribe)

    export = actions.add_parser("export", help="write a TF Serving SavedModel version")
    export.add_argument("--model", required=True)
    export.add_argument("--output", required=True, help="model base folder, e.g. models/asr")
    export.add_argument("--version", type=int, help="version number (default: next free)")
    export.set_defaults(func=_export)

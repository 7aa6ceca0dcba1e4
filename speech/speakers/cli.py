"""``dlsuite speech speakers train|evaluate|identify|enroll|verify|export``.

Built on ``common.task_cli``; ``identify`` is the task's predict action. ``enroll`` adds a voice
to a saved model's gallery and writes the file back atomically (a failed enroll leaves it as it
was); ``export`` bakes the enrolled voices into the SavedModel.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from common import task_cli as cli
from common.task_cli_commands import load
from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

TASK = "speech.speakers.task:SpeakerRecognizer"
DATA_HELP = (
    "a folder with one sub-folder of recordings per speaker, or 'builtin:voices[:COUNT]' "
    "(synthetic voices, COUNT recordings each)"
)


def resolve_data(spec: str, part: str = "train", sample_rate: int = 8000) -> Any:
    """A data spec -> ``(audio_items, speaker_names)``; built-in voices use seed 0 / 1."""
    from speech.speakers.data import load_speaker_folder, synthetic_voices

    data = cli.parse_data_spec(spec, ("voices",))
    if data.kind == "builtin":
        if data.arg and not data.arg.isdigit():
            raise cli.UsageError(f"{spec!r}: the count after builtin:voices: is a number")
        count = int(data.arg) if data.arg else (20 if part == "train" else 6)
        return synthetic_voices(6, count, sample_rate, seed=0 if part == "train" else 1)
    if data.kind == "tfds":
        raise cli.UsageError("speaker data comes from a folder or builtin:voices")
    if data.path.is_dir():
        return load_speaker_folder(data.path)
    raise cli.UsageError(f"data {spec!r} is neither a folder nor builtin:voices ({DATA_HELP})")


def _train(args: argparse.Namespace) -> int:
    from speech.speakers.task import SpeakerRecognizer

    output = cli.start_training(args)
    config = SpeakerRecognizer.config_class
    rate = cli.config_value(args, config, "sample_rate")
    data = resolve_data(args.data, "train", rate)
    val = resolve_data(args.val_data, "val", rate) if args.val_data else None
    task = SpeakerRecognizer(**cli.config_options(args, config))
    summary = "identification accuracy {identification_accuracy:.4f}, EER {eer:.4f}"
    return cli.finish_training(
        task,
        args,
        output,
        data,
        val,
        summary,
        fit_validation=False,
        evaluate_options={"enrollment": data},
    )


def _evaluate_data(args: argparse.Namespace, task: Any) -> Any:
    return resolve_data(args.data, args.part, task.config.sample_rate)


def _evaluate_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--enroll-data", help="enrol these voices for scoring (default: the model's gallery)"
    )


def _evaluate_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    if not args.enroll_data:
        return {}
    return {"enrollment": resolve_data(args.enroll_data, "train")}


def _identify(task: Any, inputs: list[Any], args: argparse.Namespace) -> list[Any]:
    return [task.identify(item) for item in inputs]


def _enroll(args: argparse.Namespace) -> int:
    task = load(args.model, TASK)
    task.enroll(args.name, list(args.inputs))
    task.save(args.model)
    print(f"enrolled {args.name!r} ({task.gallery.count(args.name)} recordings) in {args.model}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    task = load(args.model, TASK)
    for path in args.inputs:
        result = task.verify(path, args.name, args.threshold)
        if args.json:
            print(json.dumps({"audio": path, "name": args.name, **result}))
        else:
            verdict = "same" if result["same"] else "different"
            print(f"{path}\t{args.name}\t{verdict}\t{result['score']:.3f}")
    return 0


SPEAKERS = TaskCommands(
    "speakers",
    "speaker identification and verification (x-vectors)",
    TASK,
    noun="speaker recogniser",
    train=TrainCommand(
        _train,
        DATA_HELP,
        epochs=20,
        data_dir=False,
        val_help="held-out recordings of the training speakers, scored after training",
        config_help={
            "speakers": "training speaker names (default: the data's)",
            "threshold": "cosine score verify accepts at",
            "margin": "additive margin of the AM-softmax loss",
        },
        choices={"feature_type": "speech.features:FEATURE_TYPES"},
    ),
    evaluate={
        "resolve": _evaluate_data,
        "help": "identification accuracy, EER and minDCF",
        "details": (),
        "data_dir": False,
        "part_help": "for builtin: data, the validation (seed 1) or training (seed 0) set",
        "options": _evaluate_options,
        "evaluate_kwargs": _evaluate_kwargs,
    },
    predict={
        "name": "identify",
        "help": "name the enrolled speaker closest to each recording",
        "describe": lambda path, r: f"{path}\t{r['speaker']}\t{r['score']:.3f}",
        "inputs_help": "audio files (WAV; FLAC/OGG through soundfile)",
        "input_key": "audio",
        "predict": _identify,
    },
    export={"example": "models/speakers"},
)


def register(tasks: Any) -> None:
    """Add ``speakers`` with its actions (enroll and verify besides the usual ones)."""
    actions = add_task_commands(tasks, SPEAKERS)
    enroll = actions.add_parser(
        "enroll", help="add a speaker's recordings to a model's gallery", description=None
    )
    enroll.add_argument("--model", required=True, help="a .keras file (rewritten in place)")
    enroll.add_argument("--name", required=True, help="the speaker's name")
    enroll.add_argument("inputs", nargs="+", metavar="INPUT", help="recordings of the speaker")
    enroll.set_defaults(func=_enroll)
    verify = actions.add_parser(
        "verify", help="is each recording the named enrolled speaker?", description=None
    )
    verify.add_argument("--model", required=True, help="a .keras file with enrolled voices")
    verify.add_argument("--name", required=True, help="the enrolled speaker to check against")
    verify.add_argument("--threshold", type=float, help="cosine score to accept at")
    verify.add_argument("--json", action="store_true", help="one JSON object per recording")
    verify.add_argument("inputs", nargs="+", metavar="INPUT", help="recordings to check")
    verify.set_defaults(func=_verify)

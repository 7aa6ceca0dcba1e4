"""``common.task_cli``: config-generated options, data specs, shared train options, and the
generic evaluate / predict / export commands (driven here by a tiny fake task, no training)."""

from __future__ import annotations

import argparse
import ast
import csv
import dataclasses
import importlib
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common import task_cli as cli
from common.cli import main
from common.task_cli_commands import (
    add_evaluate_command,
    add_export_command,
    add_predict_command,
    jsonable,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [
    "vision.classification:ImageClassifierConfig",
    "vision.detection.task:ObjectDetectorConfig",
    "vision.segmentation.task:ImageSegmenterConfig",
    "nlp.classification.task:TextClassifierConfig",
    "nlp.ner.task:EntityTaggerConfig",
    "nlp.qa.task:QuestionAnswererConfig",
    "nlp.translation.task:TranslatorConfig",
    "speech.asr:SpeechRecognizerConfig",
    "health.classification:MedicalImageClassifierConfig",
    "health.segmentation:MedicalSegmenterConfig",
    "autonomy.config:DQNConfig",
]


@dataclasses.dataclass
class ToyConfig:
    """Every kind of field the generator handles."""

    classes: list[str] = dataclasses.field(default_factory=list)
    widths: list[int] = dataclasses.field(default_factory=lambda: [8, 16])
    image_size: int = 64
    rate: float | None = None
    flip: str | None = "horizontal"
    augment: bool = True
    extra: dict = dataclasses.field(default_factory=dict)
    window: str | list[float] | None = "abdomen"
    seed: int = 0


def _toy_parser() -> cli.CommandParser:
    parser = cli.CommandParser(prog="toy")
    cli.add_train_options(parser, "toy data", epochs=7)
    cli.add_config_options(parser, ToyConfig, choices={"flip": ("horizontal", "vertical")})
    return parser


@pytest.mark.parametrize("ref", CONFIGS)
def test_generated_options_default_to_the_config_and_name_its_fields(ref, capsys):
    config_class = cli.import_object(ref)
    parser = cli.CommandParser(prog="train")
    added = cli.add_config_options(parser, config_class)
    fields = [f.name for f in dataclasses.fields(config_class)]
    assert added == fields
    args = parser.parse_args([])
    assert cli.config_options(args, config_class) == {}  # nothing given: the config decides
    for name in fields:
        assert cli.config_value(args, config_class, name) == getattr(config_class(), name)
    flags = {s for action in parser._actions for s in action.option_strings}
    assert {"--" + name.replace("_", "-") for name in fields} <= flags  # Python name == flag
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {cli.show_value(config_class().batch_size)})" in help_text


def test_values_lists_bools_none_and_json_are_parsed_from_the_field_types():
    parser = _toy_parser()
    args = parser.parse_args(
        [
            "--data", "x", "--output", "o.keras", "--classes", "cat,dog", "bird",
            "--widths", "4", "8,12", "--rate", "0.5", "--flip", "none", "--no-augment",
            "--extra", '{"a": 1}', "--window", "[40, 400]", "--seed", "3",
        ]
    )  # fmt: skip
    assert cli.config_options(args, ToyConfig) == {
        "classes": ["cat", "dog", "bird"],
        "widths": [4, 8, 12],
        "rate": 0.5,
        "flip": None,
        "augment": False,
        "extra": {"a": 1},
        "window": [40, 400],
        "seed": 3,
    }
    assert args.epochs == 7 and args.strategy == "auto" and args.log_dir is None
    assert cli.config_value(args, ToyConfig, "image_size") == 64
    flag_on = parser.parse_args(["--data", "x", "--output", "o", "--augment"])
    assert cli.config_options(flag_on, ToyConfig) == {"augment": True}


@pytest.mark.parametrize(
    "argv",
    [
        ["--epoch", "1"],  # abbreviation of --epochs: refused, never guessed
        ["--image", "32"],
        ["--widths", "4,x"],
        ["--image-size", "big"],
        ["--flip", "diagonal"],
        ["--extra", "[1]"],
    ],
)
def test_abbreviations_and_bad_values_exit_with_code_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _toy_parser().parse_args(["--data", "x", "--output", "o", *argv])
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err


def test_help_shows_the_config_defaults_and_shared_option_defaults(capsys):
    with pytest.raises(SystemExit):
        _toy_parser().parse_args(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for expected in (
        "--image-size INT image size (default: 64)",
        "--widths INT [INT ...] widths (default: 8,16)",
        "--augment, --no-augment augment (default: true)",
        "--rate FLOAT rate (default: none)",
        "training epochs (default: 7)",
        "(default: auto)",
    ):
        assert expected in out


def test_data_specs():
    assert cli.parse_data_spec("builtin:synthetic:24", ["synthetic"]) == cli.DataSpec(
        "builtin", "synthetic", "24"
    )
    assert cli.parse_data_spec("tfds:voc/2007:validation") == cli.DataSpec(
        "tfds", "voc/2007", "validation"
    )
    spec = cli.parse_data_spec("photos/train")
    assert spec.kind == "path" and spec.path == Path("photos/train")
    with pytest.raises(cli.UsageError, match="the built-ins are builtin:digits, builtin:shapes"):
        cli.parse_data_spec("builtin:nope", ["digits", "shapes"])
    with pytest.raises(cli.UsageError, match="names no dataset"):
        cli.parse_data_spec("tfds:")
    with pytest.raises(cli.UsageError, match="empty"):
        cli.parse_data_spec(" ")


def test_output_resume_log_dir_and_seed_checks(tmp_path, monkeypatch):
    existing = tmp_path / "m.keras"
    existing.write_bytes(b"keep me")
    args = _toy_parser().parse_args(["--data", "x", "--output", str(existing)])
    with pytest.raises(FileExistsError, match="--overwrite"):
        cli.start_training(args)
    assert existing.read_bytes() == b"keep me"
    args.overwrite = True
    assert cli.start_training(args) == existing
    args.resume = True
    with pytest.raises(cli.UsageError, match="--resume needs the --work-dir"):
        cli.start_training(args)
    args.resume, args.log_dir = False, str(tmp_path / "tb")
    callbacks = cli.training_callbacks(args)
    assert [type(c).__name__ for c in callbacks] == ["TensorBoard"]
    assert callbacks[0].log_dir == str(tmp_path / "tb")
    real_find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a),
    )
    with pytest.raises(cli.UsageError, match="pip install tensorboard"):
        cli.start_training(args)
    monkeypatch.undo()
    args.log_dir, args.seed = None, 11
    cli.start_training(args)
    first = (random.random(), float(np.random.rand()))
    cli.seed_everything(11)
    assert (random.random(), float(np.random.rand())) == first


# --------------------------------------------------------------------------- generic commands
class FakeTask:
    """Stands in for a task class: load / predict(list) / evaluate / export, no TensorFlow."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def load(cls, path: str) -> FakeTask:
        return cls(path)

    def predict(self, inputs: list) -> list:
        assert isinstance(inputs, list)  # always a list, whatever the number of inputs
        return [{"label": s.upper(), "scores": np.array([0.25, 0.75])} for s in inputs]

    def evaluate(self, data, report_dir=None, overwrite=False) -> dict:
        report = {
            "accuracy": np.float32(0.5),
            "auc": float("nan"),
            "per_class": {"cat": {"precision": 1.0, "recall": 0.5}, "dog": {"precision": 0.0}},
            "confusion_matrix": [[1, 0], [1, 0]],
            "data": data,
        }
        if report_dir is not None:  # as the real tasks do (common.reports)
            from common.plots import write_report

            write_report(report_dir, report, overwrite=overwrite)
        return report

    def export(self, base_dir: str, version: int | None = None) -> Path:
        return Path(base_dir) / str(version or 1)


def _fake_cli(tmp_path: Path) -> argparse.ArgumentParser:
    parser = cli.CommandParser(prog="dlsuite fake")
    actions = cli.add_actions(parser)
    add_evaluate_command(
        actions,
        FakeTask,
        data_help="anything",
        resolve=lambda args, task: f"{args.data}:{args.part}",
        help="metrics",
    )
    add_predict_command(
        actions,
        FakeTask,
        help="labels",
        describe=lambda item, result: f"{item} -> {result['label']}",
        inputs_help="words",
        input_key="word",
    )
    add_export_command(actions, FakeTask, example="models/fake")
    (tmp_path / "fake.keras").write_bytes(b"")
    return parser


def _call(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    return args.func(args)


def test_predict_prints_readable_lines_or_one_json_object_per_input(tmp_path, capsys):
    parser, model = _fake_cli(tmp_path), str(tmp_path / "fake.keras")
    assert _call(parser, ["predict", "--model", model, "cat", "dog"]) == 0
    assert capsys.readouterr().out.splitlines() == ["cat -> CAT", "dog -> DOG"]
    assert _call(parser, ["predict", "--model", model, "--json", "cat", "dog"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        {"word": "cat", "label": "CAT", "scores": [0.25, 0.75]},
        {"word": "dog", "label": "DOG", "scores": [0.25, 0.75]},
    ]
    with pytest.raises(cli.UsageError, match="no such file"):
        _call(parser, ["predict", "--model", str(tmp_path / "none.keras"), "cat"])


def test_evaluate_summary_full_json_and_report_dir(tmp_path, capsys):
    parser, model = _fake_cli(tmp_path), str(tmp_path / "fake.keras")
    assert _call(parser, ["evaluate", "--model", model, "--data", "builtin:x"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {"accuracy": 0.5, "auc": None, "data": "builtin:x:val"}
    report_dir = tmp_path / "report"
    argv = ["evaluate", "--model", model, "--data", "d", "--part", "train", "--json"]
    assert _call(parser, [*argv, "--report-dir", str(report_dir)]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["per_class"]["cat"]["recall"] == 0.5 and full["data"] == "d:train"
    assert json.loads((report_dir / "metrics.json").read_text()) == full
    with (report_dir / "per_class.csv").open() as handle:
        rows = list(csv.reader(handle))
    assert rows == [["class", "precision", "recall"], ["cat", "1.0", "0.5"], ["dog", "0.0", ""]]
    assert "| cat | 1 | 0.5 |" in (report_dir / "report.md").read_text()


def test_evaluate_refuses_a_report_dir_holding_a_report_unless_overwrite(tmp_path, capsys):
    parser, model = _fake_cli(tmp_path), str(tmp_path / "fake.keras")
    report_dir = tmp_path / "report"
    argv = ["evaluate", "--model", model, "--report-dir", str(report_dir), "--data"]
    assert _call(parser, [*argv, "first"]) == 0
    first = (report_dir / "metrics.json").read_text()
    capsys.readouterr()
    evaluated = []
    original = FakeTask.evaluate
    FakeTask.evaluate = lambda self, data, **kw: (
        evaluated.append(data) or original(self, data, **kw)
    )
    try:
        with pytest.raises(cli.UsageError, match="already holds a report .*--overwrite") as error:
            _call(parser, [*argv, "second"])
        assert "metrics.json" in str(error.value) and "\n" not in str(error.value)
        assert evaluated == []  # refused before the evaluation ran
        assert (report_dir / "metrics.json").read_text() == first
        assert _call(parser, [*argv, "second", "--overwrite"]) == 0
    finally:
        FakeTask.evaluate = original
    assert evaluated == ["second:val"]
    assert json.loads((report_dir / "metrics.json").read_text())["data"] == "second:val"
    real = ["vision", "classify", "evaluate", "--model", model, "--data", "builtin:digits"]
    assert main([*real, "--report-dir", str(report_dir)]) == 2  # the dlsuite command: one line
    assert "already holds a report" in capsys.readouterr().err


def test_export_and_load_checks_the_task_class(tmp_path, capsys):
    parser, model = _fake_cli(tmp_path), str(tmp_path / "fake.keras")
    argv = ["export", "--model", model, "--output", "models/x", "--version", "3"]
    assert _call(parser, argv) == 0
    assert capsys.readouterr().out.strip() == f"exported {Path('models/x/3')}"
    from common.task_cli_commands import load

    with pytest.raises(ValueError, match="no such task file"):
        load(str(tmp_path / "missing.keras"), "vision.classification:ImageClassifier")


def test_jsonable_converts_numpy_and_non_finite_values():
    value = {"a": np.int64(3), "b": np.array([[1.5]]), "c": float("inf"), "d": Path("p")}
    assert jsonable(value) == {"a": 3, "b": [[1.5]], "c": None, "d": "p"}


# --------------------------------------------------------------------------- dlsuite itself
def test_version_and_top_level_help(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dlsuite {version('dlsuite')}"
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "image classification, object detection, segmentation" in out  # read, not imported
    assert "medical imaging" in out and "serve" in out


def test_help_imports_no_tensorflow_and_no_domain():
    code = (
        "import sys\n"
        "from common.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'vision', 'nlp', 'speech') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr


def test_domain_cli_modules_import_nothing_heavy_at_the_top():
    """Task modules, TensorFlow and Keras are imported inside handlers, never at module level;
    and nlp's qa / translation CLIs do not import nlp.cli (no import cycle)."""
    heavy = ("tensorflow", "keras", "numpy")
    for path in [
        "common/task_cli.py", "common/task_cli_commands.py", "common/task_cli_spec.py",
        "common/cli.py", "vision/cli.py",
        "vision/detection/cli.py", "vision/segmentation/cli.py", "nlp/cli.py", "nlp/qa/cli.py",
        "nlp/translation/cli.py", "speech/cli.py", "health/cli.py", "autonomy/cli.py",
    ]:  # fmt: skip
        tree = ast.parse((ROOT / path).read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in heavy, f"{path} imports {name} at the top"
                assert not name.endswith((".task", ".asr", ".dqn", ".classification")), path
                if path.startswith("nlp/") and path != "nlp/cli.py":
                    assert name != "nlp.cli" and name != "nlp", f"{path} imports {name}"


def test_a_task_commands_table_registers_four_lazy_actions(monkeypatch, capsys):
    """``TaskCommands``: train built from the config on first use ("module:NAME" choices
    imported then), evaluate inheriting the train data help and TFDS options, export."""
    from common.task_cli_spec import TaskCommands, TrainCommand, add_task_commands

    monkeypatch.setattr(sys.modules[__name__], "TOY_FLIPS", ("up", "down"), raising=False)
    toy = type("Toy", (), {"config_class": ToyConfig})
    monkeypatch.setattr(sys.modules[__name__], "Toy", toy, raising=False)
    spec = TaskCommands(
        "toy",
        "a toy task",
        f"{__name__}:Toy",
        noun="estimator",
        train=TrainCommand(
            lambda args: 7, "toy data", epochs=3, choices={"flip": f"{__name__}:TOY_FLIPS"}
        ),
        evaluate={"resolve": lambda args, task: None, "help": "toy scores"},
        predict={"help": "toy results", "describe": str, "inputs_help": "toys"},
        export={"example": "models/toy"},
    )  # fmt: skip
    parser = cli.CommandParser(prog="dlsuite")
    actions = add_task_commands(parser.add_subparsers(dest="task"), spec)
    assert list(actions.choices) == ["train", "evaluate", "predict", "export"]
    assert actions.choices["train"].description == "train an estimator and save it as .keras"
    args = parser.parse_args(["toy", "train", "--data", "d", "--output", "o", "--flip", "down"])
    assert (args.flip, args.epochs, args.func(args)) == ("down", 3, 7)
    with pytest.raises(SystemExit):
        parser.parse_args(["toy", "train", "--data", "d", "--output", "o", "--flip", "left"])
    args = parser.parse_args(
        ["toy", "evaluate", "--model", "m", "--data", "tfds:x", "--no-download"]
    )
    assert args.no_download and args.part == "val"
    assert "toy data" in actions.choices["evaluate"].format_help()


def test_finish_training_fits_saves_and_prints_the_validation_summary(tmp_path, capsys):
    """``load_train_val`` / ``load_labelled`` / ``finish_training`` as the domain train commands
    use them."""

    class Fake:
        def fit(self, data, **options):
            self.fitted = (data, options["validation_data"], options["epochs"])

        def save(self, path):
            Path(path).write_text("saved")

        def evaluate(self, data, **options):
            return {"accuracy": 0.5, "options": options}

    args = argparse.Namespace(
        data="builtin:x", val_data=None, epochs=2, work_dir=None, resume=False, strategy="auto"
    )
    assert cli.load_train_val(args, lambda spec, part: (spec, part)) == (
        ("builtin:x", "train"),
        ("builtin:x", "val"),
    )
    args.classes = None
    found = cli.load_labelled(args, lambda spec, part, names: ((part, names), ["a", "b"]))
    assert found == (("train", None), ("val", ["a", "b"]), ["a", "b"])
    task, output = Fake(), tmp_path / "m.keras"
    summary = "validation accuracy {accuracy:.2f}"
    assert cli.finish_training(task, args, output, "train", "val", summary) == 0
    assert task.fitted == ("train", "val", 2) and output.read_text() == "saved"
    assert "saved" in capsys.readouterr().out.splitlines()[0]
    cli.finish_training(
        task, args, output, "t", "v", lambda r: f"got {r['options']}", fit_validation=False,
        evaluate_options={"decoding": "greedy"},
    )  # fmt: skip
    assert task.fitted == ("t", None, 2)
    assert capsys.readouterr().out.splitlines()[-1] == "got {'decoding': 'greedy'}"

    class Labelled(Fake):
        config_class = ToyConfig

        def __init__(self, **options):
            self.options = options

    made = []
    args.output, args.overwrite, args.classes = str(tmp_path / "l.keras"), False, None
    code = cli.train_with_classes(
        args,
        Labelled,
        lambda spec, part, names: (part, ["x", "y"]),
        "validation accuracy {accuracy:.2f}",
        render=lambda task: made.append(task) or None,
    )
    assert code == 0 and made[0].options == {"classes": ["x", "y"]}
    assert made[0].fitted == ("train", "val", 2)
    assert capsys.readouterr().out.splitlines()[-1] == "validation accuracy 0.50"


def test_duplicated_choice_lists_match_their_source():
    from nlp.translation import cli as translation_cli
    from speech import cli as speech_cli

    assert (
        translation_cli.DECODING_METHODS
        == importlib.import_module("nlp.translation").DECODING_METHODS
    )
    assert speech_cli.DECODERS == importlib.import_module("speech.decoding").DECODERS


# --------------------------------------------------------------------------- TFDS downloads
def test_no_download_is_offered_where_data_takes_tfds_names_and_turns_downloads_off(
    tmp_path, monkeypatch, capsys
):
    from common import data as data_lib

    assert cli.TFDS_DOWNLOAD_ENV == data_lib.DOWNLOAD_ENV
    parser = argparse.ArgumentParser(prog="dlsuite", allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True)
    for domain in ("vision", "health", "nlp"):
        importlib.import_module(f"{domain}.cli").register(commands)
    model, out = str(tmp_path / "m.keras"), str(tmp_path / "o.keras")
    evaluate = ["vision", "classify", "evaluate", "--model", model, "--data", "tfds:mnist"]
    assert parser.parse_args([*evaluate, "--no-download"]).no_download is True
    assert parser.parse_args(evaluate).no_download is False
    train = ["nlp", "classify", "train", "--data", "tfds:imdb_reviews", "--output", out]
    assert parser.parse_args([*train, "--no-download"]).no_download is True
    for no_tfds in (  # --data takes no tfds: names here, so neither option is offered
        ["health", "segment", "train", "--data", "builtin:phantoms", "--output", out],
        ["nlp", "ner", "train", "--data", "builtin:ner", "--output", out],
    ):
        with pytest.raises(SystemExit):
            parser.parse_args([*no_tfds, "--no-download"])
    assert "unrecognized arguments: --no-download" in capsys.readouterr().err

    # It takes effect: the same missing set, offline, fails for a different reason.
    monkeypatch.delenv(data_lib.DOWNLOAD_ENV, raising=False)
    monkeypatch.setattr(data_lib, "is_online", lambda *a, **k: False)
    argv = ["vision", "classify", "train", "--data", "tfds:mnist", "--epochs", "1"]
    argv += ["--data-dir", str(tmp_path / "tfds"), "--output", out]
    assert main(argv) == 2
    assert "cannot reach the internet" in capsys.readouterr().err
    assert data_lib.DOWNLOAD_ENV not in __import__("os").environ
    assert main([*argv, "--no-download"]) == 2
    error = capsys.readouterr().err
    assert "downloads are off" in error and "tfds build mnist" in error
    assert __import__("os").environ[data_lib.DOWNLOAD_ENV] == "0"
    assert not (tmp_path / "tfds" / "mnist").exists() and not Path(out).exists()


# --------------------------------------------------------------------------- --log-dir pictures
def _summaries(folder: Path) -> dict[str, set[str]]:
    """Tag -> plugin names of every summary in the event files under ``folder``."""
    import tensorflow as tf

    found: dict[str, set[str]] = {}
    for events in folder.glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(events)).as_numpy_iterator():
            for value in tf.compat.v1.Event.FromString(record).summary.value:
                found.setdefault(value.tag, set()).add(value.metadata.plugin_data.plugin_name)
    return found


def test_log_dir_writes_scalars_and_sample_prediction_pictures(tmp_path, capsys):
    import tensorflow as tf

    log_dir, model = tmp_path / "tb", tmp_path / "digits.keras"
    argv = ["vision", "classify", "train", "--data", "builtin:digits", "--epochs", "1"]
    argv += ["--image-size", "16", "--widths", "8", "--batch-size", "128", "--no-augment"]
    assert main([*argv, "--output", str(model), "--log-dir", str(log_dir)]) == 0
    assert any("epoch_loss" in tags for tags in [_summaries(log_dir / "train")])
    images = _summaries(log_dir / "images")
    assert images == {"sample_predictions": {"images"}}
    (events,) = (log_dir / "images").glob("events.out.tfevents.*")
    for record in tf.data.TFRecordDataset(str(events)).as_numpy_iterator():
        for value in tf.compat.v1.Event.FromString(record).summary.value:
            tensor = tf.make_ndarray(value.tensor)  # [width, height, PNG, PNG, ...]
            assert len(tensor) == 2 + cli.SAMPLE_COUNT and int(tensor[0]) >= 96
            picture = tf.io.decode_png(tensor[2]).numpy()
            assert picture.shape[0] > picture.shape[1]  # the caption band under the image


def test_sample_inputs_reads_every_data_form_the_clis_pass_to_fit():
    import tensorflow as tf

    from health.phantoms import make_phantoms

    images = np.arange(6 * 4 * 4 * 1, dtype=np.uint8).reshape(6, 4, 4, 1)
    pair = cli.sample_inputs((images, np.zeros(6)))
    assert len(pair) == cli.SAMPLE_COUNT and (pair[1] == images[1]).all()
    labelled = tf.data.Dataset.from_tensor_slices((images, np.zeros(6)))
    assert (cli.sample_inputs(labelled.batch(4), 2)[1] == images[1]).all()
    examples = tf.data.Dataset.from_tensor_slices({"image": images, "mask": images})
    assert (cli.sample_inputs(examples, 3)[2] == images[2]).all()
    phantoms = make_phantoms(2, (16, 16), seed=0)  # an object with ``images``
    assert np.array_equal(cli.sample_inputs(phantoms)[1], phantoms.images[1])
    assert cli.sample_inputs("a/folder") == [] and cli.sample_inputs(None) == []

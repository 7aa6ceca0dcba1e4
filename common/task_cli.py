"""One scaffold for every task's command line: parsers, config options, data specs, training.

A domain CLI builds ``dlsuite <domain> <task> train|evaluate|predict|export`` from these parts
(all reachable as ``common.task_cli.NAME``):

- ``CommandParser`` (``common.task_cli_parser``): rejects abbreviated flags, shows defaults in
  ``--help`` and can be built lazily, so ``dlsuite --help`` never imports TensorFlow.
- ``add_config_options`` / ``config_options`` (``common.task_cli_options``): one
  ``--option-name`` per field of a task's config dataclass; a default of None means "the
  config's default", so defaults live only in the dataclass.
- ``parse_data_spec``: ``builtin:NAME[:ARG]``, ``tfds:NAME[:SPLIT]`` or a path.
- ``add_train_options`` / ``start_training`` / ``fit``: ``--data``, ``--val-data``, ``--epochs``,
  ``--patience``, ``--work-dir``/``--resume``, ``--strategy``, ``--output``/``--overwrite``,
  ``--data-dir``/``--no-download`` (TFDS) and ``--log-dir`` (TensorBoard scalars, plus sample
  predictions as pictures for image tasks), the same on every supervised train command;
  ``--seed`` (the config's ``seed`` field) also seeds Python, NumPy and Keras.

- ``load_train_val`` / ``load_labelled`` / ``finish_training``: the steps every train command
  shares (read the training and validation data, then fit, save and print a validation
  summary); ``render_each`` builds the ``--log-dir`` picture function from a per-input drawing.

Nothing here imports TensorFlow or Keras at import time; the helpers that need them import them
when called. ``common.task_cli_commands`` builds the evaluate / predict / export commands, and
``common.task_cli_spec`` registers all four for a task from one ``TaskCommands`` table.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from common.task_cli_options import (
    NONE,
    ListOption,
    add_config_options,
    config_default,
    config_options,
    config_value,
    show_value,
)
from common.task_cli_parser import (
    CommandParser,
    HelpFormatter,
    UsageError,
    add_actions,
    add_group,
    import_object,
    import_tensorflow_quietly,
    quiet_native_logs,
)

__all__ = [
    "NONE",
    "SAMPLE_COUNT",
    "STRATEGIES",
    "TFDS_DOWNLOAD_ENV",
    "CommandParser",
    "DataSpec",
    "HelpFormatter",
    "ListOption",
    "RenderFn",
    "UsageError",
    "add_actions",
    "add_config_options",
    "add_group",
    "add_output_options",
    "add_tfds_options",
    "add_train_options",
    "apply_download_option",
    "check_log_dir_and_seed",
    "check_output",
    "config_default",
    "config_options",
    "config_value",
    "finish_training",
    "fit",
    "import_object",
    "import_tensorflow_quietly",
    "load_labelled",
    "load_train_val",
    "parse_data_spec",
    "quiet_native_logs",
    "render_each",
    "sample_inputs",
    "save",
    "seed_everything",
    "show_value",
    "split_list",
    "start_training",
    "train_with_classes",
    "training_callbacks",
    "validation_spec",
]

STRATEGIES = ("auto", "mirrored", "multi_worker")
#: ``common.data.DOWNLOAD_ENV`` (not imported: ``common.data`` imports TensorFlow).
TFDS_DOWNLOAD_ENV = "DLSUITE_TFDS_DOWNLOAD"


# --------------------------------------------------------------------------- data specs
@dataclasses.dataclass(frozen=True)
class DataSpec:
    """A parsed ``--data`` value: ``kind`` is "builtin", "tfds" or "path"."""

    kind: str
    name: str
    arg: str = ""  # builtin: the text after NAME: ; tfds: the split

    @property
    def path(self) -> Path:
        return Path(self.name)


def parse_data_spec(spec: str, builtins: Iterable[str] = ()) -> DataSpec:
    """``builtin:NAME[:ARG]`` / ``tfds:NAME[:SPLIT]`` / a path -> ``DataSpec``.

    An unknown built-in name is a ``UsageError`` listing the built-ins.
    """
    if not spec or not spec.strip():
        raise UsageError("--data is empty; give a file, a folder, builtin:NAME or tfds:NAME")
    if spec.startswith("builtin:"):
        name, _, arg = spec.removeprefix("builtin:").partition(":")
        known = list(builtins)
        if name not in known:
            listed = ", ".join(f"builtin:{k}" for k in known) or "none for this task"
            raise UsageError(f"unknown built-in dataset {spec!r}; the built-ins are {listed}")
        return DataSpec("builtin", name, arg)
    if spec.startswith("tfds:"):
        name, _, split = spec.removeprefix("tfds:").partition(":")
        if not name:
            raise UsageError(f"{spec!r} names no dataset; write tfds:NAME or tfds:NAME:SPLIT")
        return DataSpec("tfds", name, split)
    return DataSpec("path", spec)


def validation_spec(args: argparse.Namespace) -> str | None:
    """``--val-data``, else ``--data`` itself when it is a built-in set (its validation part)."""
    if getattr(args, "val_data", None):
        return args.val_data
    return args.data if args.data.startswith("builtin:") else None


# --------------------------------------------------------------------------- training
def add_train_options(
    parser: argparse.ArgumentParser,
    data_help: str,
    *,
    epochs: int = 10,
    val_help: str = "validation data (same forms as --data)",
    data_dir: bool = True,
    supervised: bool = True,
    seed: bool = False,
) -> None:
    """The options every train command shares (``seed=True`` adds ``--seed`` for configs
    without a ``seed`` field; a config's own ``seed`` field is its ``--seed``)."""
    group = parser.add_argument_group("data and training")
    group.add_argument("--data", required=True, help=data_help)
    if supervised:
        group.add_argument("--val-data", help=val_help)
    if data_dir:
        add_tfds_options(group)
    group.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    if supervised:
        group.add_argument(
            "--patience", type=int, help="early stopping patience in epochs (default: off)"
        )
        group.add_argument(
            "--log-dir", help="write TensorBoard logs here (view with: tensorboard --logdir DIR)"
        )
    group.add_argument(
        "--work-dir", help="checkpoint folder; an interrupted run resumes with --resume"
    )
    group.add_argument(
        "--resume", action="store_true", help="continue the interrupted run in --work-dir"
    )
    group.add_argument(
        "--strategy",
        default="auto",
        choices=STRATEGIES,
        help="tf.distribute strategy (multi_worker reads TF_CONFIG)",
    )
    if seed:
        group.add_argument("--seed", type=int, help="seed Python, NumPy and Keras")
    add_output_options(group)


def add_tfds_options(parser: Any) -> None:
    """``--data-dir`` and ``--no-download`` for commands whose ``--data`` takes ``tfds:NAME``."""
    parser.add_argument("--data-dir", help="TFDS data_dir for tfds: names")
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never download a tfds: set missing from --data-dir (default: download when online)",
    )


def apply_download_option(args: argparse.Namespace) -> None:
    """``--no-download``: turn TFDS downloads off for this process (``DLSUITE_TFDS_DOWNLOAD=0``,
    which every ``common.data.load_tfds`` call reads)."""
    if getattr(args, "no_download", False):
        os.environ[TFDS_DOWNLOAD_ENV] = "0"


def add_output_options(parser: Any, help: str = "where to save the .keras file") -> None:
    """``--output`` (required) and ``--overwrite``."""
    parser.add_argument("--output", required=True, help=help)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def check_output(args: argparse.Namespace) -> Path:
    """``--output`` as a Path; an existing file is an error unless ``--overwrite`` was given."""
    output = Path(args.output)
    if output.exists() and not getattr(args, "overwrite", False):
        raise FileExistsError(f"{output} exists; pass --overwrite to replace it")
    return output


def start_training(args: argparse.Namespace) -> Path:
    """Checks made before any data is read: ``--output``, ``--resume``, ``--log-dir``, ``--seed``.

    Returns the output path. Seeds Python, NumPy and Keras when ``--seed`` was given.
    """
    output = check_output(args)
    apply_download_option(args)
    if getattr(args, "resume", False) and not getattr(args, "work_dir", None):
        raise UsageError("--resume needs the --work-dir of the interrupted run")
    check_log_dir_and_seed(args)
    return output


def check_log_dir_and_seed(args: argparse.Namespace) -> None:
    """Refuse ``--log-dir`` without tensorboard; seed everything when ``--seed`` was given."""
    if getattr(args, "log_dir", None) and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--log-dir needs the tensorboard package: pip install tensorboard")
    if getattr(args, "seed", None) is not None:
        seed_everything(args.seed)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and Keras (and the backend) with one number."""
    import keras

    keras.utils.set_random_seed(int(seed))


#: Raw inputs -> pictures of the task's predictions on them (arrays or PNG bytes), for
#: ``common.callbacks.SamplePredictions``.
RenderFn = Callable[[list[Any]], Any]
SAMPLE_COUNT = 4


def sample_inputs(data: Any, count: int = SAMPLE_COUNT) -> list[Any]:
    """Up to ``count`` raw inputs for ``task.predict`` from data as the CLIs hand it to ``fit``.

    Reads an object with ``images`` (data sets, phantoms), an ``(images, labels[, ...])`` pair
    or a ``tf.data`` dataset of ``(image, ...)`` / ``{"image": ...}`` examples; anything else
    (e.g. a path the task reads itself) gives ``[]``.
    """
    images = getattr(data, "images", None)
    if images is None and isinstance(data, (tuple, list)) and len(data) in (2, 3):
        images = data[0]
    if images is not None and not isinstance(images, (str, bytes)):
        return [images[i] for i in range(min(count, len(images)))]
    if not (hasattr(data, "element_spec") and hasattr(data, "take")):
        return []
    from common.data import is_batched

    dataset = data.unbatch() if is_batched(data) else data
    found = []
    for element in dataset.take(count).as_numpy_iterator():
        if isinstance(element, Mapping):
            element = element.get("image")
        elif isinstance(element, tuple):
            element = element[0]
        if element is not None:
            found.append(element)
    return found


def render_each(task: Any, draw: Callable[[Any, Any], Any]) -> RenderFn:
    """A ``RenderFn`` that predicts the inputs with ``task`` and pictures each one with
    ``draw(input, result)``."""

    def render(inputs: list[Any]) -> list[Any]:
        return [draw(x, result) for x, result in zip(inputs, task.predict(inputs), strict=True)]

    return render


def training_callbacks(
    args: argparse.Namespace, samples: Sequence[Any] = (), render: RenderFn | None = None
) -> list[Any]:
    """Keras callbacks the shared options ask for: with ``--log-dir``, TensorBoard (scalars)
    and, given ``samples`` and ``render``, ``SamplePredictions`` (``render(samples)`` pictured
    each epoch under ``LOG_DIR/images``)."""
    if not getattr(args, "log_dir", None):
        return []
    import keras

    callbacks: list[Any] = [keras.callbacks.TensorBoard(log_dir=str(args.log_dir))]
    if render is not None and len(samples):
        from common.callbacks import SamplePredictions

        inputs = list(samples)
        callbacks.append(
            SamplePredictions(
                args.log_dir,
                inputs,
                lambda model, batch: render(batch),  # render uses the task, i.e. this model
                max_outputs=len(inputs),
            )
        )
    return callbacks


def fit(
    task: Any,
    args: argparse.Namespace,
    data: Any,
    validation_data: Any = None,
    render: RenderFn | None = None,
    samples: Sequence[Any] | None = None,
) -> Any:
    """``task.fit`` with the shared options (epochs, work dir, resume, strategy, TensorBoard).

    With ``--log-dir`` and ``render``, a few ``samples`` (default: the first validation inputs,
    else training inputs, from ``sample_inputs``) are pictured with ``render`` every epoch.
    """
    options: dict[str, Any] = {
        "validation_data": validation_data,
        "epochs": args.epochs,
        "work_dir": args.work_dir,
        "resume": args.resume,
        "strategy": args.strategy,
        "verbose": 2,
    }
    if getattr(args, "patience", None) is not None:
        options["patience"] = args.patience
    if render is not None and getattr(args, "log_dir", None) and samples is None:
        samples = sample_inputs(validation_data) or sample_inputs(data)
    callbacks = training_callbacks(args, samples or (), render)
    if callbacks:
        options["callbacks"] = callbacks
    task.fit(data, **options)
    return task


Loader = Callable[[str, str], Any]
#: ``(spec, part, class names or None) -> (data, class names)``, as vision's ``resolve_data``.
LabelledLoader = Callable[[str, str, Any], tuple[Any, list[str]]]


def load_train_val(args: argparse.Namespace, load: Loader) -> tuple[Any, Any]:
    """``load(--data, "train")`` and ``load(validation_spec(args), "val")`` (None without one)."""
    val_spec = validation_spec(args)
    return load(args.data, "train"), (load(val_spec, "val") if val_spec else None)


def load_labelled(
    args: argparse.Namespace, load: LabelledLoader, val_spec: str | None = None
) -> tuple[Any, Any, list[str]]:
    """(train, validation or None, class names) for a loader that also finds class names.

    The classes are ``--classes`` when given, else the training data's, and the validation
    data (``val_spec``, default ``validation_spec(args)``) is read with them.
    """
    classes = getattr(args, "classes", None) or None
    data, found = load(args.data, "train", classes)
    val_spec = val_spec or validation_spec(args)
    val = load(val_spec, "val", classes or found)[0] if val_spec else None
    return data, val, list(classes or found)


def train_with_classes(
    args: argparse.Namespace,
    task_class: Any,
    load: LabelledLoader,
    summary: str | Callable[[Mapping[str, Any]], str] | None,
    render: Callable[[Any], RenderFn] | None = None,
    val_spec: str | None = None,
) -> int:
    """``train`` for a task whose classes are ``--classes`` or the data's: the start checks,
    ``load_labelled``, the task from its config options and ``finish_training``
    (``render(task)`` gives the ``--log-dir`` pictures)."""
    output = start_training(args)
    data, val, classes = load_labelled(args, load, val_spec)
    options = config_options(args, task_class.config_class)
    task = task_class(**{**options, "classes": classes})
    pictures = render(task) if render is not None else None
    return finish_training(task, args, output, data, val, summary, render=pictures)


def finish_training(
    task: Any,
    args: argparse.Namespace,
    output: Path,
    data: Any,
    val: Any = None,
    summary: str | Callable[[Mapping[str, Any]], str] | None = None,
    *,
    fit_validation: bool = True,
    evaluate_options: Mapping[str, Any] | None = None,
    render: RenderFn | None = None,
    samples: Sequence[Any] | None = None,
) -> int:
    """``fit`` (with ``val`` unless ``fit_validation`` is False), ``save``, then print
    ``summary`` of ``task.evaluate(val)`` (a format string of the report's keys or a function).
    """
    fit(task, args, data, val if fit_validation else None, render=render, samples=samples)
    save(task, output)
    if val is not None and summary is not None:
        report = task.evaluate(val, **(evaluate_options or {}))
        print(summary.format(**report) if isinstance(summary, str) else summary(report))
    return 0


def save(task: Any, output: Path) -> Path:
    """Save the trained task and say where."""
    task.save(output)
    print(f"saved {output}")
    return output


def split_list(text: str | None) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; None or "" -> []."""
    return [item.strip() for item in text.split(",") if item.strip()] if text else []

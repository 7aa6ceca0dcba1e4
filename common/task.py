"""The task contract: a config dataclass plus a Keras model with fit, evaluate, predict, save,
load and export.

Every domain task (``vision.ImageClassifier``, ...) subclasses ``Task`` and fills in a handful of
hooks; this base class owns what must behave the same everywhere: config validation and JSON,
``model.fit`` with callbacks / ``work_dir`` resume / ``tf.distribute`` strategies, the ``.keras``
round trip that keeps task state, and atomic SavedModel export.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from common import callbacks as callbacks_lib
from common import export as export_lib
from common.atomic import staged
from common.checkpoint import TrainingCheckpoint, list_checkpoints
from common.distribute import is_chief, keras_multi_worker_fix, resolve_strategy

TASK_FILE = "dlsuite_task.json"
TASK_PACKAGES = ("common", "vision", "nlp", "speech", "health", "autonomy")


@dataclasses.dataclass
class TaskConfig:
    """Base of every task's configuration: plain keyword arguments that round-trip through JSON."""

    def validate(self) -> None:
        """Raise ``ValueError`` naming the bad option; subclasses extend this."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TaskConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)} for {cls.__name__}; "
                f"known options: {', '.join(sorted(known))}"
            )
        config = cls(**values)
        config.validate()
        return config

    @classmethod
    def from_json(cls, text: str) -> TaskConfig:
        return cls.from_dict(json.loads(text))


class Task:
    """Base class: owns ``self.config`` (a ``TaskConfig``) and ``self.model`` (a Keras model)."""

    config_class: ClassVar[type[TaskConfig]] = TaskConfig
    #: History key used for early stopping / best-weights restore when validation data is given.
    monitor: ClassVar[str] = "val_loss"

    def __init__(self, **options: Any) -> None:
        self.config = self.config_class.from_dict(options)
        self._model: keras.Model | None = None
        self._strategy: tf.distribute.Strategy | None = None
        self.history: dict[str, list[float]] = {}

    # ----------------------------------------------------------------- hooks for subclasses
    def build_model(self) -> keras.Model:
        """Create the (uncompiled) Keras model from ``self.config``."""
        raise NotImplementedError

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        """Compile ``model`` with the task's loss, metrics and optimizer."""
        raise NotImplementedError

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        """Turn what the user passed (arrays, folder, tf.data) into a batched dataset."""
        raise NotImplementedError

    def serving_endpoints(self) -> dict[str, export_lib.Endpoint]:
        """``{signature: (fn, input_signature)}`` taking raw inputs; must hold serving_default."""
        raise NotImplementedError

    def warmup_inputs(self) -> dict[str, Any]:
        """One representative raw request for ``serving_default`` (written as the warmup file)."""
        raise NotImplementedError

    def export_trackables(self) -> list[Any]:
        """Objects the serving graph uses beyond the model (lookup tables, tokenizers, ...)."""
        return []

    def is_single_input(self, inputs: Any) -> bool:
        """Whether ``predict`` got one input (one result back) rather than a list of them.

        The default: a list, a tuple or another non-string iterable (not an array) is a list
        of inputs; anything else is one input. Tasks override it where one input can itself be
        a sequence (an image array, a waveform given as a list of floats).
        """
        if isinstance(inputs, (list, tuple)):
            return False
        return not isinstance(inputs, Iterable) or isinstance(
            inputs, (str, bytes, os.PathLike, Mapping, np.ndarray)
        )

    def predict_batch(self, items: list[Any], **kwargs: Any) -> list[Any]:
        """Raw inputs -> one result per input, in order (the work behind ``predict``)."""
        raise NotImplementedError

    def before_fit(self, data: Any, resume: bool) -> None:
        """Work ``fit`` does on the training data before Keras training starts (e.g.
        unsupervised pretraining); nothing by default. ``resume`` is ``fit``'s."""

    def get_state(self) -> dict[str, Any]:
        """Task state beyond the config that a saved file must keep (e.g. vocabularies)."""
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what ``get_state`` returned."""

    # ----------------------------------------------------------------- model and training
    @property
    def model(self) -> keras.Model:
        """The Keras model, built on first use (inside the active distribution strategy)."""
        if self._model is None:
            self._model = self.build_model()
        return self._model

    def _model_in_scope(self, strategy: tf.distribute.Strategy) -> keras.Model:
        """Build (or rebuild, keeping weights) the model so its variables live in ``strategy``."""
        default = strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy()
        if self._model is not None and (self._strategy is strategy or default):
            return self._model
        with strategy.scope():
            rebuilt = self.build_model()
            if self._model is not None:
                rebuilt.set_weights(self._model.get_weights())
        self._model, self._strategy = rebuilt, strategy
        return rebuilt

    def fit(
        self,
        data: Any,
        validation_data: Any = None,
        epochs: int = 10,
        batch_size: int | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        work_dir: str | os.PathLike | None = None,
        resume: bool = False,
        strategy: str | tf.distribute.Strategy | None = None,
        patience: int | None = None,
        checkpoint_every: int | None = None,
        verbose: str | int = "auto",
    ) -> TrainingHistory:
        """Train with ``keras.Model.fit``; returns a ``keras.callbacks.History`` of the whole run.

        ``self.history`` keeps the same per-epoch logs as a plain dict of lists; after
        ``resume=True`` both hold every epoch of the run, the ones before the interruption too.

        ``work_dir`` turns on atomic checkpoints (each epoch, and every ``checkpoint_every``
        steps): after a crash or ``kill -9``, the same call with ``resume=True`` continues from
        the last saved step. ``strategy`` is "auto", "mirrored", "multi_worker" or a
        ``tf.distribute.Strategy``; ``batch_size`` is the global batch across replicas.
        ``patience`` enables early stopping on the validation metric with best-weights restore.
        """
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        batch_size = int(batch_size or getattr(self.config, "batch_size", 32))
        checkpoint_dir = self._check_work_dir(work_dir, resume)
        self.before_fit(data, resume)
        strategy = resolve_strategy(strategy)
        train = self.make_dataset(data, batch_size, training=True)
        val = (
            None
            if validation_data is None
            else self.make_dataset(validation_data, batch_size, False)
        )
        steps = _epoch_length(train)
        model = self._model_in_scope(strategy)
        with strategy.scope():
            self.compile_model(model, epochs * steps)

        checkpoint, start_epoch, skip = None, 0, 0
        if checkpoint_dir is not None:
            checkpoint = TrainingCheckpoint(
                checkpoint_dir,
                steps_per_epoch=steps,
                every_steps=checkpoint_every,
                task_state={"config": self.config.to_dict(), "state": self.get_state()},
                write=is_chief(strategy),
            )
            position = checkpoint.restore(model) if resume else None
            if position is not None:
                start_epoch, skip = position["epoch"], position["step_in_epoch"]
        monitor = self.monitor if val is not None else self.monitor.removeprefix("val_")
        all_callbacks = callbacks_lib.training_callbacks(
            monitor=monitor,
            patience=patience,
            extra=[
                callbacks_lib.ThroughputMeter(batch_size),
                *([checkpoint] if checkpoint is not None else []),
                *callbacks,
            ],
        )
        # Epochs finished before an interruption (from the checkpoint), then this call's.
        history: dict[str, list[float]] = {}
        epochs_done: list[int] = []
        if checkpoint is not None:
            history = {key: list(values) for key, values in checkpoint.history.items()}
            epochs_done = list(checkpoint.epochs_done)
        params: dict[str, Any] = {}

        def run(dataset: tf.data.Dataset, first: int, last: int) -> None:
            with keras_multi_worker_fix(strategy):
                result = model.fit(
                    dataset,
                    validation_data=val,
                    initial_epoch=first,
                    epochs=last,
                    callbacks=all_callbacks,
                    verbose=verbose,
                    shuffle=False,  # the tf.data pipeline already shuffles
                )
            for key, values in result.history.items():
                history.setdefault(key, []).extend(float(v) for v in values)
            epochs_done.extend(int(e) for e in result.epoch)
            params.update(result.params or {})

        if skip and start_epoch < epochs:  # finish the interrupted epoch from its saved step
            run(train.skip(skip), start_epoch, start_epoch + 1)
            start_epoch += 1
        if start_epoch < epochs:
            run(train, start_epoch, epochs)
        if checkpoint is not None:
            checkpoint.clear()
        self.history = history
        return TrainingHistory(history, epochs_done, params, model)

    @staticmethod
    def _check_work_dir(work_dir: str | os.PathLike | None, resume: bool) -> Path | None:
        if work_dir is None:
            if resume:
                raise ValueError("resume=True needs the work_dir of the interrupted run")
            return None
        checkpoints = Path(work_dir) / "checkpoints"
        if list_checkpoints(checkpoints) and not resume:
            raise ValueError(
                f"{work_dir} holds an interrupted training run; pass resume=True to continue it "
                "or use an empty work_dir"
            )
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        return checkpoints

    def evaluate(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def predict(self, inputs: Any, **kwargs: Any) -> Any:
        """One raw input -> one result; a list of inputs -> a list of results, in order.

        What one input is, and the keyword options, are the task's (see its ``predict_batch``).
        """
        single = self.is_single_input(inputs)
        items = [inputs] if single else list(inputs)
        if not items:
            raise ValueError("predict needs at least one input, got an empty list")
        results = self.predict_batch(items, **kwargs)
        if len(results) != len(items):
            raise RuntimeError(
                f"{type(self).__name__}.predict_batch returned {len(results)} results "
                f"for {len(items)} inputs"
            )
        return results[0] if single else results

    # ----------------------------------------------------------------- persistence
    @classmethod
    def qualified_name(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def save(self, path: str | os.PathLike) -> Path:
        """Write a ``.keras`` file holding the model plus this task's config and state.

        The file is written beside the target and renamed over it only when complete, so an
        existing file is never left half-written.
        """
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"task files use the .keras extension, got {path.name!r}")
        payload = {
            "task": self.qualified_name(),
            "config": self.config.to_dict(),
            "state": self.get_state(),
            "format": 1,
        }
        with staged(path) as staging:
            self.model.save(staging)
            with zipfile.ZipFile(staging, "a") as archive:
                archive.writestr(TASK_FILE, json.dumps(payload))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Load a file written by ``save``; the stored task must be this class.

        ``Task.load`` itself loads whichever task (or loadable agent) class wrote the file.
        """
        payload = read_task_file(path)
        if payload["task"] != cls.qualified_name() and cls is not Task:
            raise ValueError(f"{path} holds a {payload['task']}, not a {cls.qualified_name()}")
        task_cls = cls if cls is not Task else _import_task_class(payload["task"])
        if not issubclass(task_cls, Task):  # a loadable non-Task (e.g. an RL agent)
            return task_cls.load(path)
        task = task_cls.__new__(task_cls)
        task.config = task_cls.config_class.from_dict(payload["config"])
        task._strategy = None
        task.history = {}
        task.set_state(payload.get("state", {}))
        task._model = keras.saving.load_model(path, safe_mode=True)
        return task

    def export(
        self, base_dir: str | os.PathLike, version: int | None = None, **options: Any
    ) -> Path | None:
        """Export a SavedModel with raw-input signatures to ``base_dir/<version>/`` atomically.

        ``options`` go to ``serving_endpoints`` (e.g. a translator's decoding settings), and
        ``export_trackables`` names the tables the graph needs. In a multi-worker run every
        worker must take part in writing, but only the chief's export is kept; the other
        workers write to a temporary folder and return None.
        """
        if options:
            accepted = inspect.signature(self.serving_endpoints).parameters.values()
            if not any(p.kind is p.VAR_KEYWORD for p in accepted):
                known = {p.name for p in accepted}
                unknown = sorted(set(options) - known)
                if unknown:
                    raise ValueError(
                        f"unknown export option(s) {', '.join(unknown)} for {type(self).__name__}"
                    )
        endpoints = self.serving_endpoints(**options)
        chief = self._strategy is None or is_chief(self._strategy)
        target = Path(base_dir) if chief else Path(tempfile.mkdtemp(prefix="dlsuite-export-"))
        try:
            path = export_lib.export_saved_model(
                target,
                self.model,
                endpoints,
                warmup_inputs=self.warmup_inputs(),
                version=version,
                extra_trackables=self.export_trackables(),
            )
        finally:
            if not chief:
                shutil.rmtree(target, ignore_errors=True)
        return path if chief else None

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({options})"


def _epoch_length(dataset: tf.data.Dataset) -> int:
    """Batches per epoch; counted once when tf.data cannot tell (e.g. generator sources).

    The learning-rate schedule and resumable checkpoints both need the true epoch length.
    """
    steps = int(dataset.cardinality())
    if steps == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError("the training data is an infinite dataset; pass one epoch of data")
    if steps == int(tf.data.UNKNOWN_CARDINALITY):
        steps = int(dataset.reduce(0, lambda count, _: count + 1))
    if steps == 0:
        raise ValueError("the training data is empty")
    return steps


def read_task_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read the task header of a ``.keras`` file, with clear errors for the wrong kind of file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such task file: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            if TASK_FILE not in archive.namelist():
                raise ValueError(f"{path} is a Keras file but not a dlsuite task (no {TASK_FILE})")
            return json.loads(archive.read(TASK_FILE))
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is not a .keras file (not a zip archive)") from error


#: Modules that task files written before the per-task sub-packages name; mapped to their new home.
_MOVED_TASK_MODULES = {
    "nlp.text_classification": "nlp.classification.task",
    "nlp.question_answering": "nlp.qa.task",
}


def is_loadable(cls: Any) -> bool:
    """Whether ``load_task`` may load files of ``cls``: a ``Task`` or a declared task-file class.

    A class that is not a ``Task`` (e.g. ``autonomy.DQNAgent``) opts in with the class attribute
    ``dlsuite_task_file = True``, writes the same ``dlsuite_task.json`` header into its
    ``.keras`` file and has a ``load(path)`` classmethod.
    """
    if not isinstance(cls, type):
        return False
    return issubclass(cls, Task) or getattr(cls, "dlsuite_task_file", False) is True


def _import_task_class(qualified: str) -> type:
    module_name, _, class_name = qualified.rpartition(".")
    module_name = _MOVED_TASK_MODULES.get(module_name, module_name)
    if module_name.split(".")[0] not in TASK_PACKAGES:
        raise ValueError(f"refusing to import task class {qualified!r} outside dlsuite packages")
    task_cls = getattr(importlib.import_module(module_name), class_name, None)
    if not is_loadable(task_cls):
        raise ValueError(f"{qualified!r} is not a dlsuite task class")
    return task_cls


def load_task(path: str | os.PathLike) -> Any:
    """Load any dlsuite task file (a task or a loadable agent), whichever class wrote it."""
    return _import_task_class(read_task_file(path)["task"]).load(path)


class TrainingHistory(keras.callbacks.History):
    """What ``Task.fit`` returns: a ``keras.callbacks.History`` of the whole run.

    ``history`` maps each metric to its per-epoch values, ``epoch`` lists the epoch indices,
    ``params`` holds Keras' fit parameters. Reading it like the dict that ``fit`` used to return
    (``history["loss"]``) still works but is deprecated: use ``history.history["loss"]``.
    """

    def __init__(
        self,
        history: Mapping[str, Sequence[float]],
        epoch: Sequence[int],
        params: Mapping[str, Any] | None = None,
        model: keras.Model | None = None,
    ) -> None:
        super().__init__()
        self.history = {key: list(values) for key, values in history.items()}
        self.epoch = list(epoch)
        self.set_params(dict(params or {}))
        if model is not None:
            self.set_model(model)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def keys(self) -> Any:
        """The metric names (deprecated dict-style access; use ``.history.keys()``)."""
        return self.history.keys()


def as_list(inputs: Any) -> list[Any]:
    """Normalise "one thing or a list of things" for ``predict``; empty input is a ValueError."""
    if isinstance(inputs, (list, tuple)):
        items = list(inputs)
    elif isinstance(inputs, Iterable) and not isinstance(
        inputs, (str, bytes, os.PathLike, Mapping)
    ):
        items = list(inputs)
    else:
        items = [inputs]
    if not items:
        raise ValueError("predict needs at least one input, got an empty list")
    return items

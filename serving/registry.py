"""Model discovery, version policy, background polling and lookup, like TF Serving's manager.

The registry knows which models exist (every ``MODEL_BASE/<name>/`` folder, or the entries of
a ``models.config``), which numbered versions are on disk, and which are loaded. A poll
(at start, then every ``poll_interval`` seconds on a daemon thread):

* picks the versions the policy wants (the highest one by default), skipping versions that
  already failed to load (until their files change) and folders whose name is not an
  integer (e.g. ``.tmp-3-abcd`` written by an export in progress);
* loads and warms up each wanted version that is not loaded yet, *then* publishes it and
  only afterwards retires versions no longer wanted, so there is always a version to answer;
* logs a version that fails to load and keeps serving the previous ones.

Lookups (:meth:`ModelRegistry.resolve`) take a short lock and return an immutable
:class:`~serving.servable.Servable`; callers run predictions outside the lock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from serving.errors import InvalidArgument, NotFound
from serving.models_config import (
    CONFIG_FILE_NAME,
    ModelEntry,
    is_valid_model_name,
    read_models_config,
)
from serving.servable import LoadError, Servable, has_saved_model

log = logging.getLogger(__name__)

LOADING, AVAILABLE, END = "LOADING", "AVAILABLE", "END"
MAX_VERSION = 2**63 - 1


@dataclass(frozen=True)
class VersionStatus:
    """The state of one version, as in TF Serving's ``ModelVersionStatus``."""

    version: int
    state: str
    error: str = ""


@dataclass
class _Model:
    entry: ModelEntry
    servables: dict[int, Servable] = field(default_factory=dict)
    states: dict[int, VersionStatus] = field(default_factory=dict)
    failed: dict[int, tuple[tuple[str, int, int], ...]] = field(default_factory=dict)


def version_dirs(base_path: Path) -> dict[int, Path]:
    """Integer-named subfolders of ``base_path`` that hold a SavedModel."""
    found: dict[int, Path] = {}
    try:
        children = list(os.scandir(base_path))
    except OSError:
        return found
    for child in children:
        if not child.name.isdigit() or not child.is_dir():
            continue
        version = int(child.name)
        if version <= MAX_VERSION and has_saved_model(Path(child.path)):
            found[version] = Path(child.path)
    return found


def _fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    """Changes when any file of a version folder changes (so a fixed version is retried).

    Every file below the folder counts (name, mtime, size): rewriting
    ``variables/variables.data-00000-of-00001`` in place does not touch the folder's own
    mtime, so looking at the top-level entries only would never retry such a fix.
    """
    parts: list[tuple[str, int, int]] = []
    for root, dirs, files in os.walk(path, onerror=lambda _: None):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError:
                continue
            parts.append((os.path.relpath(full, path), st.st_mtime_ns, st.st_size))
    return tuple(parts)


class ModelRegistry:
    """Discovers, loads, polls and looks up model versions. Thread-safe."""

    def __init__(
        self,
        discover: Callable[[], list[ModelEntry]],
        poll_interval: float = 2.0,
        loader: Callable[[str, int, Path], Servable] = Servable.load,
    ) -> None:
        self._discover = discover
        self.poll_interval = poll_interval
        self._loader = loader
        self._models: dict[str, _Model] = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def for_path(cls, path: str | os.PathLike[str], poll_interval: float = 2.0) -> ModelRegistry:
        """A registry for a models folder, a single model's folder, or a models.config file.

        * a file: read as ``models.config`` (re-read when it changes);
        * a folder containing ``models.config``: that config;
        * a folder with numbered version subfolders: one model named after the folder;
        * otherwise: every valid subfolder name is a model.
        """
        path = Path(path)
        if path.is_file():
            return cls(_ConfigDiscovery(path), poll_interval)
        if not path.is_dir():
            raise FileNotFoundError(f"model folder '{path}' does not exist")
        if (path / CONFIG_FILE_NAME).is_file():
            log.info("Using %s", path / CONFIG_FILE_NAME)
            return cls(_ConfigDiscovery(path / CONFIG_FILE_NAME), poll_interval)
        return cls(_FolderDiscovery(path), poll_interval)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Load what is on disk now (synchronously), then keep polling in the background."""
        self.poll_once()
        if self.poll_interval > 0 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._poll_loop, name="dlsuite-serving-poll", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling (waits for a load in progress, up to ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.poll_once()
            except Exception:  # never let a surprise kill the poller
                log.exception("Model poll failed; will retry")

    def poll_once(self) -> None:
        """Discover models and bring every model's loaded versions in line with disk."""
        with self._poll_lock:
            try:
                entries = {e.name: e for e in self._discover()}
            except Exception as exc:
                log.error("Cannot list models (%s); keeping the current ones", exc)
                return
            with self._lock:
                for name in list(self._models):
                    if name not in entries:
                        log.info("Model %s is no longer configured; unloading it", name)
                        del self._models[name]
                for name, entry in entries.items():
                    model = self._models.setdefault(name, _Model(entry))
                    model.entry = entry
                models = list(self._models.values())
            for model in models:
                if self._stop.is_set():
                    return
                self._sync(model)

    def _sync(self, model: _Model) -> None:
        """Load what the policy wants, *then* unload the rest (availability preserving).

        A served version whose folder was deleted keeps answering (it is in memory) until
        the version that replaces it has loaded, as TF Serving's availability-preserving
        policy does; so deleting the highest version never leaves a window without one.
        """
        entry = model.entry
        on_disk = version_dirs(Path(entry.base_path))
        with self._lock:
            for version in [v for v in model.states if v not in on_disk]:
                if version not in model.servables:
                    model.states.pop(version, None)
                model.failed.pop(version, None)
        desired: list[int] = []
        for _ in range(len(on_disk) + 1):  # each round either finishes or marks a failure
            candidates = [
                v
                for v, p in on_disk.items()
                if v not in model.failed or model.failed[v] != _fingerprint(p)
            ]
            desired = entry.version_policy.select(candidates)
            to_load = [v for v in desired if v not in model.servables]
            if not to_load:
                break
            for version in to_load:
                self._load(model, version, on_disk[version])
        with self._lock:
            for version in [v for v in model.servables if v not in desired]:
                log.info("Unloading %s version %d", entry.name, version)
                del model.servables[version]
                if version in on_disk:
                    model.states[version] = VersionStatus(version, END)
                else:
                    model.states.pop(version, None)

    def _load(self, model: _Model, version: int, path: Path) -> None:
        name = model.entry.name
        fingerprint = _fingerprint(path)
        with self._lock:
            model.states[version] = VersionStatus(version, LOADING)
        try:
            servable = self._loader(name, version, path)
        except LoadError as exc:
            error = str(exc)
        except Exception as exc:  # a loader bug must not stop other models
            error = f"{type(exc).__name__}: {exc}"
        else:
            with self._lock:
                model.servables[version] = servable
                model.states[version] = VersionStatus(version, AVAILABLE)
                model.failed.pop(version, None)
            return
        log.error(
            "Failed to load %s version %d; keeping the previous versions: %s", name, version, error
        )
        with self._lock:
            model.failed[version] = fingerprint
            model.states[version] = VersionStatus(version, END, error)

    # ------------------------------------------------------------------ lookups

    def model_names(self) -> list[str]:
        """Names of all configured models (loaded or not)."""
        with self._lock:
            return sorted(self._models)

    def available_versions(self, name: str) -> list[int]:
        """Loaded versions of ``name``, highest first (empty if unknown)."""
        with self._lock:
            model = self._models.get(name)
            return sorted(model.servables, reverse=True) if model else []

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> Servable:
        """The servable for a request: a version, a label, or the highest loaded version."""
        check_name(name)
        with self._lock:
            model = self._models.get(name)
            if label is not None:
                if model is None or label not in model.entry.version_labels:
                    raise NotFound(f"Unrecognized servable version label: {label} (model {name})")
                version = int(model.entry.version_labels[label])
            if model is not None and model.servables:
                if version is None:
                    return model.servables[max(model.servables)]
                if version in model.servables:
                    return model.servables[version]
        if version is None:
            raise NotFound(f"Servable not found for request: Latest({name})")
        raise NotFound(f"Servable not found for request: Specific({name}, {version})")

    def status(
        self, name: str, version: int | None = None, label: str | None = None
    ) -> list[VersionStatus]:
        """Version states of a model (all versions, or the one a version/label names)."""
        check_name(name)
        with self._lock:
            model = self._models.get(name)
            if model is None or not model.states:
                raise NotFound(f"Could not find any versions of model {name}")
            if label is not None:
                if label not in model.entry.version_labels:
                    raise NotFound(f"Unrecognized servable version label: {label} (model {name})")
                version = int(model.entry.version_labels[label])
            if version is None:
                return [model.states[v] for v in sorted(model.states)]
            if version not in model.states:
                raise NotFound(f"Could not find version {version} of model {name}")
            return [model.states[version]]


def check_name(name: str) -> None:
    """Reject names that cannot be model names (``..``, ``/``, control characters...)."""
    if not is_valid_model_name(name):
        raise InvalidArgument(
            f"Invalid model name {name[:100]!r}: names use letters, digits, '_', '.', '-' "
            "and cannot contain '/' or '..'"
        )


def parse_version(text: str) -> int:
    """A version from a URL segment; non-negative integer or :class:`InvalidArgument`."""
    if not text.isascii() or not text.isdigit() or int(text) > MAX_VERSION:
        raise InvalidArgument(
            f"Malformed version {text[:40]!r}: versions are non-negative integers"
        )
    return int(text)


class _FolderDiscovery:
    """Models are the subfolders of a base folder (or the base folder itself)."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def __call__(self) -> list[ModelEntry]:
        if not self.base.is_dir():
            raise FileNotFoundError(f"model folder '{self.base}' no longer exists")
        if version_dirs(self.base):
            name = self.base.resolve().name
            if is_valid_model_name(name):
                return [ModelEntry(name=name, base_path=str(self.base))]
        entries = []
        for child in sorted(self.base.iterdir()):
            if child.is_dir() and is_valid_model_name(child.name) and not child.name.isdigit():
                entries.append(ModelEntry(name=child.name, base_path=str(child)))
        return entries


class _ConfigDiscovery:
    """Models are the entries of a models.config, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._entries: list[ModelEntry] = []
        self()  # a broken config is a startup error, not a silent empty server

    def __call__(self) -> list[ModelEntry]:
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._entries = read_models_config(self.path)  # raises -> keep old models
            self._stamp = stamp
        return list(self._entries)

"""Domain-free building blocks shared by every dlsuite task.

Importing ``common`` stays light (no TensorFlow). ``common.load_model(path)`` loads any
``.keras`` file dlsuite saved: Keras finds custom classes only once the module that registers
them is imported (it imports modules by itself only for keras packages, and has no plug-in
entry point), so a bare ``keras.saving.load_model`` in a fresh process fails with "Could not
locate class ...". ``required_imports(path)`` names the modules to import instead.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import zipfile
from typing import Any

# TF 2.21's oneDNN CPU kernels corrupted the heap ("free(): invalid size", "double free or
# corruption") while training small ResNets on 16x16 images (widths [8, 16], [8, 16, 32],
# [12, 16]) on some x86 CPUs, killing the interpreter; TF's Eigen kernels run them, and were as
# fast on dlsuite's CPU-sized models (2 epochs of a 32 px classifier: 8.8 s vs 8.8 s). So
# dlsuite picks the Eigen kernels unless the user chose (TF_ENABLE_ONEDNN_OPTS=1 keeps oneDNN).
# The setting is read when TensorFlow loads, so it only applies if TensorFlow is not loaded yet.
if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__all__ = ["DLSUITE_PACKAGES", "load_model", "required_imports"]

#: Top-level import packages of the dlsuite distribution.
DLSUITE_PACKAGES = ("common", "vision", "nlp", "speech", "health", "autonomy")
_TASK_HEADER = "dlsuite_task.json"  # common.task.TASK_FILE, read here without importing Keras


def _modules_in(config: Any, found: set[str]) -> None:
    if isinstance(config, dict):
        module = config.get("module")
        if isinstance(module, str) and "class_name" in config:
            found.add(module)
        for value in config.values():
            _modules_in(value, found)
    elif isinstance(config, list):
        for value in config:
            _modules_in(value, found)


def _is_dlsuite(module: str) -> bool:
    return module.split(".", 1)[0] in DLSUITE_PACKAGES


def required_imports(path: str | os.PathLike) -> list[str]:
    """The non-Keras modules whose classes a ``.keras`` file names, sorted (reads only JSON).

    ``import`` them (e.g. ``import common.layers``) before ``keras.saving.load_model(path)``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "config.json" not in names:
                raise ValueError(f"{path} is not a Keras .keras file (no config.json)")
            found: set[str] = set()
            _modules_in(json.loads(archive.read("config.json")), found)
            if _TASK_HEADER in names:
                task = json.loads(archive.read(_TASK_HEADER)).get("task", "")
                if isinstance(task, str) and "." in task:
                    found.add(task.rpartition(".")[0])
    except FileNotFoundError as error:
        raise ValueError(f"no such file: {path}") from error
    except zipfile.BadZipFile as error:
        raise ValueError(f"{path} is not a .keras file (not a zip archive)") from error
    return sorted(m for m in found if m != "keras" and not m.startswith(("keras.", "builtins")))


def load_model(path: str | os.PathLike, **kwargs: Any) -> Any:
    """``keras.saving.load_model(path, **kwargs)`` after importing the dlsuite modules it needs.

    Only modules of dlsuite's own packages are imported; a file that needs any other module
    raises ``ValueError`` naming it (import it yourself, then call Keras directly).
    """
    modules = required_imports(path)
    foreign = [m for m in modules if not _is_dlsuite(m)]
    if foreign:
        raise ValueError(
            f"{path} needs classes from {', '.join(foreign)}, which are not part of dlsuite; "
            "import them, then call keras.saving.load_model"
        )
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is None or not module.startswith(error.name):
                raise  # the module exists but one of its own imports is missing
            # Moved since the file was saved: its classes keep their registered names, and the
            # task module (also listed) imports their new home.
    import keras

    return keras.saving.load_model(path, **kwargs)

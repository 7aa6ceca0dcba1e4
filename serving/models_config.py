"""TF Serving's ``models.config`` (text-format ``ModelServerConfig``): write and read it.

The same file drives both servers: real TF Serving (``--model_config_file=...``) and the
embedded one (``dlsuite serve --model-config-file ...``, or a ``models.config`` found in the
served folder). Each entry has a name, a ``base_path`` holding numbered versions, the
``tensorflow`` platform, a version policy (latest N, all, or specific versions) and optional
``version_labels`` (e.g. ``stable -> 3``, ``canary -> 4``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

log = logging.getLogger(__name__)

CONFIG_FILE_NAME = "models.config"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def is_valid_model_name(name: str) -> bool:
    """Model names are one safe path segment: letters, digits, ``_ . -``; no ``..``."""
    return bool(_NAME_RE.match(name)) and ".." not in name and len(name) <= 255


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions of a model to serve (TF Serving's ``ServableVersionPolicy``)."""

    kind: Literal["latest", "all", "specific"] = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def latest(cls, num_versions: int = 1) -> VersionPolicy:
        """Serve the ``num_versions`` highest versions (TF Serving's default is 1)."""
        if num_versions < 1:
            raise ValueError("num_versions must be at least 1")
        return cls("latest", num_versions=num_versions)

    @classmethod
    def all(cls) -> VersionPolicy:
        """Serve every version found on disk."""
        return cls("all")

    @classmethod
    def specific(cls, *versions: int) -> VersionPolicy:
        """Serve exactly these versions (those present on disk)."""
        if not versions:
            raise ValueError("a specific version policy needs at least one version")
        return cls("specific", versions=tuple(sorted({int(v) for v in versions})))

    def select(self, available: Iterable[int]) -> list[int]:
        """The versions to serve out of ``available``, highest first."""
        ordered = sorted(set(available), reverse=True)
        if self.kind == "latest":
            return ordered[: self.num_versions]
        if self.kind == "specific":
            return [v for v in ordered if v in self.versions]
        return ordered


@dataclass(frozen=True)
class ModelEntry:
    """One served model: name, folder of numbered versions, policy and labels."""

    name: str
    base_path: str
    version_policy: VersionPolicy = VersionPolicy()
    version_labels: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not is_valid_model_name(self.name):
            raise ValueError(
                f"Invalid model name {self.name!r}: use letters, digits, '_', '.', '-' "
                "(no '/', no '..')"
            )
        for label, version in self.version_labels.items():
            if not is_valid_model_name(label) or int(version) < 0:
                raise ValueError(f"Invalid version label {label!r} -> {version!r}")


#: Names, ModelEntry objects, dicts, or a mapping name -> base_path / dict.
ModelsSpec = Mapping[str, Any] | Sequence[Any]


def _policy_from(value: Any) -> VersionPolicy:
    if value is None or isinstance(value, VersionPolicy):
        return value or VersionPolicy()
    if value in ("latest", "all"):
        return VersionPolicy.latest() if value == "latest" else VersionPolicy.all()
    if isinstance(value, Mapping):
        if "latest" in value:
            return VersionPolicy.latest(int(value["latest"]))
        if "specific" in value:
            return VersionPolicy.specific(*value["specific"])
    raise ValueError(
        f"Unknown version policy {value!r}: use 'latest', 'all', {{'latest': N}} or "
        "{'specific': [versions]} or a VersionPolicy"
    )


def _entries(models: ModelsSpec, default_base: str) -> list[ModelEntry]:
    """Normalise the accepted ``models`` spellings into :class:`ModelEntry` objects."""
    items: list[tuple[str, Any]]
    if isinstance(models, Mapping):
        items = list(models.items())
    else:
        items = []
        for item in models:
            if isinstance(item, ModelEntry):
                items.append((item.name, item))
            elif isinstance(item, str):
                items.append((item, None))
            elif isinstance(item, Mapping) and "name" in item:
                items.append((str(item["name"]), item))
            else:
                raise ValueError(f"Cannot read model entry {item!r}")
    entries = []
    for name, spec in items:
        if isinstance(spec, ModelEntry):
            entries.append(spec)
            continue
        if spec is None or isinstance(spec, (str, os.PathLike)):
            spec = {"base_path": spec} if spec is not None else {}
        base_path = spec.get("base_path") or f"{default_base.rstrip('/')}/{name}"
        entries.append(
            ModelEntry(
                name=name,
                base_path=str(base_path),
                version_policy=_policy_from(spec.get("version_policy")),
                version_labels={
                    str(k): int(v) for k, v in (spec.get("version_labels") or {}).items()
                },
            )
        )
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"Duplicate model names in {names}")
    return entries


def to_proto(entries: Sequence[ModelEntry]) -> model_server_config_pb2.ModelServerConfig:
    """The ``ModelServerConfig`` message for ``entries``."""
    config = model_server_config_pb2.ModelServerConfig()
    for entry in entries:
        model = config.model_config_list.config.add()
        model.name = entry.name
        model.base_path = entry.base_path
        model.model_platform = "tensorflow"
        policy = entry.version_policy
        if policy.kind == "latest":
            model.model_version_policy.latest.num_versions = policy.num_versions
        elif policy.kind == "all":
            model.model_version_policy.all.SetInParent()
        else:
            model.model_version_policy.specific.versions.extend(policy.versions)
        for label, version in sorted(entry.version_labels.items()):
            model.version_labels[label] = int(version)
    return config


def write_models_config(
    path: str | os.PathLike[str],
    models: ModelsSpec,
    *,
    base_path_prefix: str = "/models",
) -> Path:
    """Write TF Serving's text-format ``models.config`` and return its path.

    ``path`` is the file to write, or a folder (then ``<folder>/models.config`` is written).
    ``models`` may be a list of names, a list of :class:`ModelEntry`, a list of dicts with
    ``name``/``base_path``/``version_policy``/``version_labels``, or a mapping
    ``name -> base_path`` or ``name -> dict``. A model without a ``base_path`` gets
    ``<base_path_prefix>/<name>``: with the default ``/models`` that is where the Docker
    command in docs/serving.md mounts the folder. The file is written atomically.
    """
    target = Path(path)
    if target.is_dir():
        target = target / CONFIG_FILE_NAME
    config = to_proto(_entries(models, base_path_prefix))
    text = text_format.MessageToString(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def read_models_config(path: str | os.PathLike[str]) -> list[ModelEntry]:
    """Parse a ``models.config`` file into entries.

    Relative ``base_path`` values are resolved against the config file's folder. An absolute
    ``base_path`` that does not exist here but whose last segment exists next to the config
    file (the Docker layout ``/models/<name>``) is mapped to that local folder, so one file
    serves both the container and the embedded server.
    """
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
        config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except (OSError, UnicodeDecodeError, text_format.ParseError) as exc:
        raise ValueError(f"Cannot read model config {config_path}: {exc}") from exc
    if config.HasField("custom_model_config"):
        raise ValueError(f"{config_path}: custom_model_config is not supported")
    entries = []
    for model in config.model_config_list.config:
        if model.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"{config_path}: model {model.name!r} has platform "
                f"{model.model_platform!r}; only 'tensorflow' is supported"
            )
        which = model.model_version_policy.WhichOneof("policy_choice")
        if which == "all":
            policy = VersionPolicy.all()
        elif which == "specific":
            policy = VersionPolicy.specific(*model.model_version_policy.specific.versions)
        else:
            num = model.model_version_policy.latest.num_versions if which else 1
            policy = VersionPolicy.latest(max(1, num))
        entries.append(
            ModelEntry(
                name=model.name,
                base_path=str(_local_base_path(model.base_path, config_path.parent)),
                version_policy=policy,
                version_labels=dict(model.version_labels),
            )
        )
    return entries


def _local_base_path(base_path: str, config_dir: Path) -> Path:
    candidate = Path(base_path)
    if not candidate.is_absolute():
        return (config_dir / candidate).resolve()
    if candidate.exists():
        return candidate
    local = config_dir / candidate.name
    if candidate.name and local.is_dir():
        log.info("base_path %s not found here; using %s next to the config file", base_path, local)
        return local.resolve()
    return candidate

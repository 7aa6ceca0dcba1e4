"""models.config: TF Serving's text format, written and read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import ModelEntry, VersionPolicy, read_models_config, write_models_config

pytestmark = pytest.mark.timeout(60)


def parse(path: Path) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def test_writes_tf_serving_text_format(tmp_path):
    path = write_models_config(
        tmp_path,
        [
            "digits",
            {
                "name": "pets",
                "version_policy": {"specific": [3, 4]},
                "version_labels": {"stable": 3, "canary": 4},
            },
            ModelEntry("ner", "/srv/models/ner", VersionPolicy.all()),
            {"name": "qa", "version_policy": {"latest": 2}},
        ],
    )
    assert path == tmp_path / "models.config"
    config = parse(path)
    models = {m.name: m for m in config.model_config_list.config}
    assert models["digits"].base_path == "/models/digits"
    assert models["digits"].model_platform == "tensorflow"
    assert models["digits"].model_version_policy.latest.num_versions == 1
    assert list(models["pets"].model_version_policy.specific.versions) == [3, 4]
    assert dict(models["pets"].version_labels) == {"stable": 3, "canary": 4}
    assert models["ner"].model_version_policy.HasField("all")
    assert models["ner"].base_path == "/srv/models/ner"
    assert models["qa"].model_version_policy.latest.num_versions == 2
    text = path.read_text()
    assert 'model_platform: "tensorflow"' in text and "model_config_list {" in text


def test_mapping_form_and_prefix(tmp_path):
    path = write_models_config(
        tmp_path / "conf" / "serving.config",
        {"a": "/data/a", "b": {"version_policy": "all"}},
        base_path_prefix="/mnt/m",
    )
    models = {m.name: m for m in parse(path).model_config_list.config}
    assert models["a"].base_path == "/data/a"
    assert models["b"].base_path == "/mnt/m/b"


def test_round_trip_and_docker_paths(tmp_path):
    (tmp_path / "pets").mkdir()
    write_models_config(
        tmp_path,
        [
            {
                "name": "pets",
                "version_policy": {"specific": [1, 2]},
                "version_labels": {"stable": 1},
            },
            {"name": "rel", "base_path": "sub/rel"},
        ],
    )
    entries = {e.name: e for e in read_models_config(tmp_path / "models.config")}
    # "/models/pets" does not exist here: it maps to the folder next to the config file.
    assert Path(entries["pets"].base_path) == (tmp_path / "pets").resolve()
    assert entries["pets"].version_policy == VersionPolicy.specific(1, 2)
    assert dict(entries["pets"].version_labels) == {"stable": 1}
    assert Path(entries["rel"].base_path) == (tmp_path / "sub" / "rel").resolve()


@pytest.mark.parametrize(
    "bad",
    [
        ["../escape"],
        ["a/b"],
        [""],
        [{"name": "x", "version_policy": "newest"}],
        [{"name": "x", "version_labels": {"bad label": 1}}],
        ["dup", "dup"],
    ],
)
def test_rejects_bad_entries(tmp_path, bad):
    with pytest.raises(ValueError):
        write_models_config(tmp_path, bad)
    assert not (tmp_path / "models.config").exists()


def test_unreadable_config_is_a_clear_error(tmp_path):
    path = tmp_path / "models.config"
    path.write_text("model_config_list { config { nme: 'x' } }")
    with pytest.raises(ValueError, match="Cannot read model config"):
        read_models_config(path)


def test_policy_selection():
    assert VersionPolicy.latest().select([1, 3, 2]) == [3]
    assert VersionPolicy.latest(2).select([1, 3, 2]) == [3, 2]
    assert VersionPolicy.all().select([1, 3, 2]) == [3, 2, 1]
    assert VersionPolicy.specific(1, 5).select([1, 3, 2]) == [1]

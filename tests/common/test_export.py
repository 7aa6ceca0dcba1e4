"""Atomic numbered exports, warmup requests and the core-op checker."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import export as export_lib


def _tiny_model() -> keras.Model:
    inputs = keras.Input((3,), name="x")
    return keras.Model(inputs, keras.layers.Dense(2, name="dense")(inputs))


def _endpoints(model: keras.Model) -> dict:
    def serve(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"y": model(x)}

    return {"serving_default": (serve, [tf.TensorSpec([None, 3], tf.float32, name="x")])}


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_versions_are_numbered_and_warmup_is_written(tmp_path):
    model = _tiny_model()
    warmup = {"x": np.ones((1, 3), np.float32)}
    first = export_lib.export_saved_model(tmp_path / "m", model, _endpoints(model), warmup)
    second = export_lib.export_saved_model(tmp_path / "m", model, _endpoints(model), warmup)
    assert (first.name, second.name) == ("1", "2")
    assert export_lib.existing_versions(tmp_path / "m") == [1, 2]
    (request,) = export_lib.read_warmup_requests(second)
    np.testing.assert_array_equal(request["x"], warmup["x"])
    loaded = tf.saved_model.load(str(second)).signatures["serving_default"]
    np.testing.assert_allclose(
        loaded(x=tf.ones((1, 3)))["y"].numpy(), model(np.ones((1, 3))), atol=1e-6
    )


def test_failed_export_leaves_no_partial_version_and_keeps_the_previous(tmp_path, monkeypatch):
    model = _tiny_model()
    base = tmp_path / "m"
    previous = export_lib.export_saved_model(base, model, _endpoints(model), {"x": np.ones((1, 3))})
    before = _tree_digest(previous)

    def explode(*args, **kwargs):  # variables are written by now; the warmup step fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_lib, "write_warmup_requests", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        export_lib.export_saved_model(base, model, _endpoints(model), {"x": np.ones((1, 3))})
    assert sorted(p.name for p in base.iterdir()) == ["1"]
    assert _tree_digest(previous) == before


def test_existing_version_is_never_overwritten(tmp_path):
    model = _tiny_model()
    export_lib.export_saved_model(tmp_path / "m", model, _endpoints(model), version=3)
    with pytest.raises(export_lib.ExportError, match="already exists"):
        export_lib.export_saved_model(tmp_path / "m", model, _endpoints(model), version=3)
    with pytest.raises(export_lib.ExportError, match="serving_default"):
        export_lib.export_saved_model(tmp_path / "n", model, {})


def test_staging_folders_are_invisible_to_version_discovery(tmp_path):
    (tmp_path / "m" / ".tmp-7-abcd").mkdir(parents=True)
    (tmp_path / "m" / "notes").mkdir()
    assert export_lib.existing_versions(tmp_path / "m") == []
    assert export_lib.next_version(tmp_path / "m") == 1


def test_core_op_checker_flags_non_core_ops(tmp_path):
    model = _tiny_model()
    version = export_lib.export_saved_model(tmp_path / "m", model, _endpoints(model))
    assert export_lib.non_core_ops(version) == []
    ops = export_lib.saved_model_op_types(version)
    assert "MatMul" in ops or "_FusedMatMul" in ops or "StatefulPartitionedCall" in ops

    # Rewrite the graph so one node uses an op from tensorflow-text: the checker must catch it.
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version / "saved_model.pb").read_bytes())
    proto.meta_graphs[0].graph_def.node[0].op = "FastWordpieceTokenizeWithOffsets"
    (version / "saved_model.pb").write_bytes(proto.SerializeToString())
    assert export_lib.non_core_ops(version) == ["FastWordpieceTokenizeWithOffsets"]


def test_next_export_removes_staging_left_by_a_killed_export_but_keeps_live_ones(
    tmp_path, monkeypatch
):
    model = _tiny_model()
    base = tmp_path / "m"
    dead = base / f"{export_lib.TEMP_PREFIX}1-0badf00d-1"  # an export killed mid-write
    (dead / "variables").mkdir(parents=True)
    (dead / "variables" / "variables.data-00000-of-00001").write_bytes(b"half")
    past = time.time() - 600
    for path in (dead / "variables" / "variables.data-00000-of-00001", dead / "variables", dead):
        os.utime(path, (past, past))
    live = base / f"{export_lib.TEMP_PREFIX}1-5eedc0de-1"  # an export still writing files
    live.mkdir()
    soon = time.time() + 60
    os.utime(live, (soon, soon))
    staging_names = []
    real_write = export_lib.write_warmup_requests

    def spy(staging, *args, **kwargs):
        staging_names.append(Path(staging).name)
        return real_write(staging, *args, **kwargs)

    monkeypatch.setattr(export_lib, "write_warmup_requests", spy)
    version = export_lib.export_saved_model(base, model, _endpoints(model), {"x": np.ones((1, 3))})
    assert version == base / "1"
    assert sorted(p.name for p in base.iterdir()) == sorted(["1", live.name])
    # TF Serving loads only numeric folders: the staging folder never looks like a version.
    (name,) = staging_names
    assert name.startswith(".") and not name.isdigit()
    assert export_lib.existing_versions(base) == [1]


def test_warmup_file_has_one_owner_that_the_server_reads(tmp_path):
    from common import warmup
    from serving import warmup as serving_warmup

    assert serving_warmup.write_warmup_file is warmup.write_warmup_file
    warmup.write_warmup_file(tmp_path, [{"text": np.array(["héllo"])}, {"x": np.ones((1, 2))}])
    first, second = warmup.read_warmup_requests(tmp_path)
    assert first["text"].tolist() == ["héllo".encode()] and second["x"].shape == (1, 2)
    logs = list(serving_warmup.read_warmup_requests(tmp_path))  # the server's view: protos
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log", "predict_log"]
    assert warmup.read_warmup_requests(tmp_path / "none") == []

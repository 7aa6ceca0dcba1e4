"""Version swaps keep a version available; failed versions are retried after in-place fixes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import install

from serving.errors import NotFound
from serving.registry import ModelRegistry

pytestmark = pytest.mark.timeout(120)

FEATURES = np.array([[1.0, 2.0, 3.0]], np.float32)
REPO = Path(__file__).resolve().parents[2]


def fake_version(base: Path, version: int) -> Path:
    folder = base / "m" / str(version)
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(b"good")
    return folder


def test_deleting_the_served_version_loads_the_next_one_before_unloading(tmp_path):
    fake_version(tmp_path, 1)
    v2 = fake_version(tmp_path, 2)
    loading_v1 = threading.Event()
    release = threading.Event()

    def loader(name: str, version: int, path: Path) -> tuple[str, int]:
        if version == 1:
            loading_v1.set()
            assert release.wait(30)
        return (name, version)

    registry = ModelRegistry.for_path(tmp_path / "m", poll_interval=0)
    registry._loader = loader
    registry.start()
    assert registry.resolve("m") == ("m", 2)
    shutil.rmtree(v2)
    poll = threading.Thread(target=registry.poll_once)
    poll.start()
    assert loading_v1.wait(30)
    try:
        # v1 is loading: the deleted v2 (still in memory) keeps answering, no 404 window
        assert registry.resolve("m") == ("m", 2)
        assert [s.state for s in registry.status("m")] == ["LOADING", "AVAILABLE"]
    finally:
        release.set()
        poll.join(30)
    assert registry.resolve("m") == ("m", 1)
    assert registry.available_versions("m") == [1]
    assert [(s.version, s.state) for s in registry.status("m")] == [(1, "AVAILABLE")]
    with pytest.raises(NotFound):
        registry.resolve("m", version=2)


def test_deleting_every_version_unloads(tmp_path):
    v1 = fake_version(tmp_path, 1)
    registry = ModelRegistry.for_path(tmp_path / "m", poll_interval=0)
    registry._loader = lambda name, version, path: (name, version)
    registry.start()
    shutil.rmtree(v1)
    registry.poll_once()
    with pytest.raises(NotFound):
        registry.resolve("m")


def test_failed_version_is_retried_when_a_variables_file_is_rewritten(model_library, tmp_path):
    target = install(model_library, tmp_path, "tabular", 1, "tabular_v1")
    (data,) = (target / "variables").glob("variables.data-*")
    good = data.read_bytes()
    with open(data, "r+b") as handle:  # truncate in place: the folder's mtime is unchanged
        handle.truncate(len(good) // 2)
    folder_mtime = (target / "variables").stat().st_mtime_ns
    registry = ModelRegistry.for_path(tmp_path / "tabular", poll_interval=0)
    registry.start()
    (status,) = registry.status("tabular")
    assert status.state == "END" and status.error
    registry.poll_once()  # unchanged files: not retried, still END
    assert registry.status("tabular")[0].state == "END"
    with open(data, "r+b") as handle:  # the fix, written in place
        handle.write(good)
    os.utime(data, ns=(folder_mtime + 10**9, folder_mtime + 10**9))
    assert (target / "variables").stat().st_mtime_ns == folder_mtime
    registry.poll_once()
    assert registry.status("tabular")[0].state == "AVAILABLE"
    scores = registry.resolve("tabular").predict({"features": FEATURES})["scores"]
    assert scores.shape == (1, 2)


def test_failed_load_prints_each_log_line_once(model_library, tmp_path):
    target = install(model_library, tmp_path, "tabular", 1, "tabular_v1")
    (data,) = (target / "variables").glob("variables.data-*")
    data.write_bytes(data.read_bytes()[:10])
    script = textwrap.dedent(
        f"""
        import logging
        from serving.cli import _setup_logging
        from serving.registry import ModelRegistry

        _setup_logging("INFO")
        # What a library does on an odd path (e.g. while a broken SavedModel loads): the
        # module-level logging.warning() runs basicConfig, adding a root handler.
        logging.warning("library noise")
        registry = ModelRegistry.for_path({str(tmp_path / "tabular")!r}, poll_interval=0)
        registry.start()
        logging.getLogger("serving.check").warning("after-the-failure marker")
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("Failed to load tabular version 1") == 1, result.stderr[-2000:]
    assert result.stderr.count("after-the-failure marker") == 1, result.stderr[-2000:]

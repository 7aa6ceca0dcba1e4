"""Version handling: hot reload under load, corrupt versions, fallbacks, policies."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import install

from serving import Client, GrpcClient
from serving.models_config import VersionPolicy, write_models_config
from serving.server import ModelServer

pytestmark = pytest.mark.timeout(180)

FEATURES = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], np.float32)
POLL_S = 0.3


def wait_until(predicate, timeout: float = 30.0, step: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def states(client: Client, model: str = "tabular") -> dict[int, str]:
    return {int(s["version"]): s["state"] for s in client.status(model)["model_version_status"]}


def corrupt_version(base: Path, version: int) -> Path:
    tmp = base / "tabular" / f".tmp-{version}"
    (tmp / "variables").mkdir(parents=True)
    (tmp / "saved_model.pb").write_bytes(b"this is not a protobuf \x00\xff" * 10)
    target = base / "tabular" / str(version)
    tmp.rename(target)
    return target


@pytest.fixture()
def expected(in_process):
    return {
        v: in_process(f"tabular_v{v}")["serving_default"](features=FEATURES)["scores"].numpy()
        for v in (1, 2)
    }


@pytest.fixture()
def live(model_library, tmp_path):
    base = tmp_path / "models"
    install(model_library, base, "tabular", 1, "tabular_v1")
    with ModelServer(base, rest_port=0, grpc_port=0, poll_interval=POLL_S) as server:
        yield base, server


def test_hot_reload_without_failed_requests(live, model_library, expected):
    base, server = live
    results: list[tuple[str, str]] = []
    failures: list[str] = []
    stop = threading.Event()

    def send(protocol: str, worker: str) -> None:
        client = Client(server.rest_url) if protocol == "rest" else GrpcClient(server.grpc_target)
        with client:
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    scores = client.predict("tabular", {"features": FEATURES})["scores"]
                except Exception as exc:  # any failure is a test failure
                    failures.append(f"{protocol}: {exc!r}")
                    continue
                if np.array_equal(scores, expected[1]):
                    results.append((worker, "v1"))
                elif np.array_equal(scores, expected[2]):
                    results.append((worker, "v2"))
                else:
                    failures.append(f"{protocol}: unexpected scores {scores}")

    workers = {"rest-0": "rest", "rest-1": "rest", "grpc-0": "grpc"}
    threads = [threading.Thread(target=send, args=(p, w)) for w, p in workers.items()]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(results) >= 10)
        dropped_at = time.monotonic()
        install(model_library, base, "tabular", 2, "tabular_v2")
        with Client(server.rest_url) as client:
            wait_until(lambda: states(client).get(2) == "AVAILABLE")
            picked_up_s = time.monotonic() - dropped_at
            count = len(results)
            wait_until(lambda: len(results) >= count + 10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert not failures, failures[:5]
    assert {w for w, _ in results} == set(workers)
    assert results[0][1] == "v1" and results[-1][1] == "v2"
    assert picked_up_s < 20
    # For each client, once v2 answered v1 never answers again (v1 is retired after the switch).
    for worker in workers:
        seq = [v for w, v in results if w == worker]
        assert seq == sorted(seq), worker


def test_corrupt_new_version_keeps_old_one_served(live, model_library, expected):
    base, server = live
    partial = base / "tabular" / ".tmp-9-in-progress"
    partial.mkdir()
    (partial / "saved_model.pb").write_bytes(b"half written")
    corrupt_version(base, 5)
    with Client(server.rest_url) as client:
        status = wait_until(lambda: (s := states(client)).get(5) == "END" and s)
        assert status == {1: "AVAILABLE", 5: "END"}
        error = [
            s for s in client.status("tabular")["model_version_status"] if s["version"] == "5"
        ][0]["status"]
        assert error["error_code"] != "OK" and "savedmodel" in error["error_message"].lower()
        np.testing.assert_array_equal(
            client.predict("tabular", {"features": FEATURES})["scores"], expected[1]
        )
        # A later good version is still picked up after a failure.
        install(model_library, base, "tabular", 6, "tabular_v2")
        wait_until(lambda: states(client).get(6) == "AVAILABLE")
        np.testing.assert_array_equal(
            client.predict("tabular", {"features": FEATURES})["scores"], expected[2]
        )


def test_failed_warmup_rejects_version(live, model_library, expected):
    base, server = live
    install(model_library, base, "tabular", 3, "tabular_bad_warmup")
    with Client(server.rest_url) as client:
        wait_until(lambda: states(client).get(3) == "END")
        message = client.status("tabular", version=3)["model_version_status"][0]["status"]
        assert "warmup" in message["error_message"]
        assert states(client)[1] == "AVAILABLE"
        np.testing.assert_array_equal(
            client.predict("tabular", {"features": FEATURES})["scores"], expected[1]
        )


def test_startup_falls_back_below_corrupt_latest(model_library, tmp_path, expected):
    base = tmp_path / "models"
    install(model_library, base, "tabular", 1, "tabular_v1")
    corrupt_version(base, 2)
    with ModelServer(base / "tabular", rest_port=0, grpc_port=None, poll_interval=0) as server:
        with Client(server.rest_url) as client:  # a single model's folder is served by its name
            assert states(client) == {1: "AVAILABLE", 2: "END"}
            np.testing.assert_array_equal(
                client.predict("tabular", FEATURES)["scores"], expected[1]
            )


def test_new_model_folder_is_discovered(live, model_library):
    base, server = live
    install(model_library, base, "images", 1, "images")
    with Client(server.rest_url) as client:
        wait_until(lambda: _safe_states(client, "images").get(1) == "AVAILABLE")


def _safe_states(client: Client, model: str) -> dict[int, str]:
    try:
        return states(client, model)
    except LookupError:
        return {}


def test_models_config_policies_and_labels(model_library, tmp_path, expected):
    base = tmp_path / "models"
    for version in (1, 2):
        install(model_library, base, "tabular", version, f"tabular_v{version}")
    shutil.copytree(base / "tabular", base / "other")
    write_models_config(
        base / "models.config",
        [
            {
                "name": "tabular",
                "base_path": "tabular",
                "version_policy": {"specific": [1]},
                "version_labels": {"stable": 1},
            },
            {"name": "other", "base_path": str(base / "other"), "version_policy": {"latest": 2}},
        ],
    )
    with ModelServer(base, rest_port=0, grpc_port=None, poll_interval=0) as server:
        with Client(server.rest_url) as client:
            assert states(client) == {1: "AVAILABLE"}
            assert states(client, "other") == {1: "AVAILABLE", 2: "AVAILABLE"}
            np.testing.assert_array_equal(
                client.predict("tabular", FEATURES, label="stable")["scores"], expected[1]
            )
            np.testing.assert_array_equal(client.predict("other", FEATURES)["scores"], expected[2])


def test_config_change_is_picked_up(model_library, tmp_path):
    base = tmp_path / "models"
    for version in (1, 2):
        install(model_library, base, "tabular", version, f"tabular_v{version}")
    config = base / "models.config"
    write_models_config(config, [{"name": "tabular", "base_path": str(base / "tabular")}])
    with ModelServer(config, rest_port=0, grpc_port=None, poll_interval=POLL_S) as server:
        with Client(server.rest_url) as client:
            assert states(client) == {2: "AVAILABLE"}
            time.sleep(0.05)  # a distinct mtime for the rewritten file
            write_models_config(
                config,
                [
                    {
                        "name": "tabular",
                        "base_path": str(base / "tabular"),
                        "version_policy": VersionPolicy.all(),
                        "version_labels": {"old": 1},
                    }
                ],
            )
            wait_until(lambda: states(client).get(1) == "AVAILABLE")
            assert (
                client.status("tabular", label="old")["model_version_status"][0]["version"] == "1"
            )

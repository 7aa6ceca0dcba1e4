"""``dlsuite serve`` (common.serving.cli): defaults, user mistakes, a real foreground run."""

from __future__ import annotations

import argparse
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from common.serving.cli import add_arguments, run

pytestmark = pytest.mark.timeout(180)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dlsuite serve")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_match_tf_serving_and_bind_loopback():
    args = parse("models")
    assert (args.host, args.port, args.grpc_port) == ("127.0.0.1", 8501, 8500)


def assert_one_sentence(capsys, *fragments: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlsuite serve: ") and err.count("\n") == 0, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_missing_folder(tmp_path, capsys):
    assert run(parse(str(tmp_path / "nope"))) == 2
    assert_one_sentence(capsys, "does not exist")


def test_missing_argument(capsys):
    assert run(parse()) == 2
    assert_one_sentence(capsys, "MODEL_BASE")


@pytest.mark.parametrize("flag", ["--port", "--grpc-port"])
def test_port_in_use(served_base, capsys, flag):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        other = "--grpc-port" if flag == "--port" else "--port"
        assert run(parse(str(served_base), flag, str(port), other, "0")) == 2
    assert_one_sentence(capsys, "already in use", flag)


def test_bad_port_number(served_base, capsys):
    assert run(parse(str(served_base), "--port", "70000")) == 2
    assert_one_sentence(capsys, "--port")


def test_broken_models_config(tmp_path, capsys):
    config = tmp_path / "models.config"
    config.write_text("model_config_list { config { name: 'x' base_path: 3 } }")
    assert run(parse("--model-config-file", str(config))) == 2
    assert_one_sentence(capsys, "Cannot read model config")


def read_until(proc: subprocess.Popen, pattern: str, timeout: float) -> re.Match:
    """Read the child's stdout until ``pattern`` matches (bounded by ``timeout``)."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen += line
            match = re.search(pattern, seen)
            if match:
                return match
        elif proc.poll() is not None:
            break
    raise AssertionError(f"no {pattern!r} in output: {seen[-2000:]}")


def test_foreground_run_serves_and_stops_on_sigterm(served_base):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "common.serving", str(served_base), "--port", "0",
         "--grpc-port", "0", "--poll-interval", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        match = read_until(proc, r"REST\s+(http://127\.0\.0\.1:\d+)", timeout=120)
        status = httpx.get(f"{match.group(1)}/v1/models/images", timeout=30)
        assert status.status_code == 200
        assert status.json()["model_version_status"][0]["state"] == "AVAILABLE"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()

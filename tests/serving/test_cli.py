"""``dlsuite serve`` (serving.cli): defaults, user mistakes, a real foreground run."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
import time

import httpx
import pytest

from serving.cli import add_arguments, run

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_foreground_run_serves_and_stops_on_sigterm(served_base, capsys):
    """run() in this (main) thread; a helper checks the server, then sends SIGTERM."""
    port = free_port()
    original = signal.getsignal(signal.SIGTERM)
    seen: dict[str, object] = {}

    def probe() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            # Only signal once run() has installed its handler (never kill the test process).
            if signal.getsignal(signal.SIGTERM) is not original:
                try:
                    seen["status"] = httpx.get(
                        f"http://127.0.0.1:{port}/v1/models/images", timeout=30
                    ).json()
                finally:
                    os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(0.05)

    helper = threading.Thread(target=probe, daemon=True)
    helper.start()
    code = run(
        parse(str(served_base), "--port", str(port), "--grpc-port", "0", "--poll-interval", "0")
    )
    helper.join(30)
    assert code == 0
    assert signal.getsignal(signal.SIGTERM) is original
    assert seen["status"]["model_version_status"][0]["state"] == "AVAILABLE"
    out = capsys.readouterr().out
    assert f"REST  http://127.0.0.1:{port}" in out and "Server stopped." in out


def test_module_entry_point(tmp_path, capsys):
    from serving.__main__ import main

    assert main([str(tmp_path / "missing")]) == 2
    assert_one_sentence(capsys, "does not exist")

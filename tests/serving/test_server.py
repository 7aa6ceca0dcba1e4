"""ModelServer lifecycle: ports, disabling gRPC, idempotent stop, host logging untouched."""

from __future__ import annotations

import io
import logging

import httpx
import pytest

from serving.server import ModelServer

pytestmark = pytest.mark.timeout(120)


class _RecordingHandler(logging.StreamHandler):
    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def test_lifecycle_and_logging_left_alone(served_base):
    stream = io.StringIO()
    handler = _RecordingHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        server = ModelServer(served_base, rest_port=0, grpc_port=None, poll_interval=0)
        with server:
            assert server.rest_port not in (0, None) and server.grpc_port is None
            assert httpx.get(f"{server.rest_url}/v1/models/pair", timeout=30).status_code == 200
        server.stop()  # a second stop is harmless
        assert server.wait(0)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.rest_url}/v1/models/pair", timeout=2)
        # Starting the server must not close the host application's logging handlers.
        root.warning("still logging")
        assert not handler.closed and "still logging" in stream.getvalue()
    finally:
        root.removeHandler(handler)

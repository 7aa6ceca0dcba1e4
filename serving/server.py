"""The embedded model server: registry + REST (uvicorn) + gRPC, in background threads.

    with ModelServer("models/", rest_port=0, grpc_port=0) as server:   # 0 = a free port
        Client(server.rest_url).predict("pets", {"image_bytes": [png]})
        GrpcClient(server.grpc_target).predict("pets", {"image_bytes": [png]})

``start()`` returns once the models on disk are loaded and both listeners accept
connections; ``stop()`` shuts both down and stops polling. The default bind address is
loopback (``127.0.0.1``); bind other addresses only behind your own network controls.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import grpc
import uvicorn

from serving.grpc_server import create_grpc_server
from serving.http_protocol import DEFAULT_READ_TIMEOUT_S, MAX_HEAD_BYTES, GuardedH11Protocol
from serving.registry import ModelRegistry
from serving.rest import DEFAULT_MAX_BODY_BYTES, create_app

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_REST_PORT = 8501
DEFAULT_GRPC_PORT = 8500
_START_TIMEOUT_S = 30.0


class ServerStartError(Exception):
    """The server could not start (bad folder, port in use...); the message says why."""


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerStartError(f"cannot resolve host '{host}': {exc.strerror}") from None
    family, socktype, proto, _, address = infos[0]
    # proto must be IPPROTO_TCP: asyncio only disables Nagle (TCP_NODELAY) on accepted
    # sockets whose proto says TCP; with proto 0 every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socktype, proto or socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerStartError(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _grpc_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ModelServer:
    """REST + gRPC model server over a models folder or ``models.config``.

    ``rest_port`` / ``grpc_port``: 0 picks a free port, ``None`` disables that protocol.
    ``poll_interval``: seconds between scans for new versions (0 disables polling).
    ``max_body_bytes``: REST bodies and gRPC messages above it get 413 / RESOURCE_EXHAUSTED;
    requests whose tensors decode to more than it get 400 / INVALID_ARGUMENT.
    ``read_timeout``: a REST request that stops sending (head or body) for this many seconds
    gets 408 and is closed (0 disables).
    """

    def __init__(
        self,
        model_base: str | os.PathLike[str],
        *,
        host: str = DEFAULT_HOST,
        rest_port: int | None = DEFAULT_REST_PORT,
        grpc_port: int | None = DEFAULT_GRPC_PORT,
        poll_interval: float = 2.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        grpc_workers: int = 8,
        access_log: bool = False,
        read_timeout: float = DEFAULT_READ_TIMEOUT_S,
    ) -> None:
        self.model_base = Path(model_base)
        self.host = host
        self.rest_port = rest_port
        self.grpc_port = grpc_port
        self.poll_interval = poll_interval
        self.max_body_bytes = max_body_bytes
        self.grpc_workers = grpc_workers
        self.access_log = access_log
        self.read_timeout = read_timeout
        self.registry: ModelRegistry | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._rest_thread: threading.Thread | None = None
        self._grpc: grpc.Server | None = None
        self._stopped = threading.Event()

    # ------------------------------------------------------------------ addresses

    @property
    def rest_url(self) -> str:
        """``http://host:port`` of the REST API (after :meth:`start`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.rest_port}"

    @property
    def grpc_target(self) -> str:
        """``host:port`` of the gRPC API, for ``grpc.insecure_channel`` (after :meth:`start`)."""
        return _grpc_address(self.host, int(self.grpc_port or 0))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> ModelServer:
        """Load models, bind both ports and serve in background threads."""
        if self.max_body_bytes <= 0:
            raise ServerStartError("max_body_bytes must be positive")
        if not self.read_timeout >= 0:
            raise ServerStartError("read_timeout must be >= 0 seconds")
        try:
            self.registry = ModelRegistry.for_path(self.model_base, self.poll_interval)
        except (FileNotFoundError, ValueError) as exc:
            raise ServerStartError(str(exc)) from None
        rest_socket = _bind(self.host, self.rest_port) if self.rest_port is not None else None
        try:
            if self.grpc_port is not None:
                try:
                    self._grpc, self.grpc_port = create_grpc_server(
                        self.registry,
                        _grpc_address(self.host, self.grpc_port),
                        self.max_body_bytes,
                        self.grpc_workers,
                    )
                except OSError:
                    raise ServerStartError(
                        f"gRPC port {self.grpc_port} on {self.host} is already in use or not "
                        "available; choose another with --grpc-port"
                    ) from None
            self.registry.start()
            if self._grpc is not None:
                self._grpc.start()
            if rest_socket is not None:
                self.rest_port = rest_socket.getsockname()[1]
                self._start_rest(rest_socket)
        except BaseException:
            if rest_socket is not None:
                rest_socket.close()
            self.stop()
            raise
        log.info(
            "Serving %s: REST %s, gRPC %s",
            self.registry.model_names(),
            self.rest_url if self.rest_port is not None else "off",
            self.grpc_target if self.grpc_port is not None else "off",
        )
        return self

    def _start_rest(self, sock: socket.socket) -> None:
        assert self.registry is not None
        app = create_app(self.registry, self.max_body_bytes)
        config = uvicorn.Config(
            app,
            # log_config=None: uvicorn's default dictConfig would close every logging
            # handler already installed in this process (the host app's, pytest's).
            log_config=None,
            log_level="info" if self.access_log else "warning",
            access_log=self.access_log,
            lifespan="off",
            timeout_graceful_shutdown=5,
            http=GuardedH11Protocol.configured(self.read_timeout, MAX_HEAD_BYTES),
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
        self._uvicorn = uvicorn.Server(config)
        self._rest_thread = threading.Thread(
            target=self._uvicorn.run,
            kwargs={"sockets": [sock]},
            name="dlsuite-rest",
            daemon=True,
        )
        self._rest_thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._uvicorn.started:
            if not self._rest_thread.is_alive() or time.monotonic() > deadline:
                raise ServerStartError(f"the REST server did not start on {self.rest_url}")
            time.sleep(0.01)

    def stop(self, grace: float = 5.0) -> None:
        """Stop REST, gRPC and polling. Safe to call more than once."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._grpc is not None:
            self._grpc.stop(grace).wait(grace + 1)
            self._grpc = None
        if self._rest_thread is not None:
            self._rest_thread.join(grace + 5)
            if self._rest_thread.is_alive():
                log.warning("REST server thread did not stop within %.0f s", grace + 5)
                if self._uvicorn is not None:
                    self._uvicorn.force_exit = True
            self._rest_thread = None
            self._uvicorn = None
        if self.registry is not None:
            self.registry.stop()
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` is called (or ``timeout``); True if stopped."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

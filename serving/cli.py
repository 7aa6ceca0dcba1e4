"""``dlsuite serve``: run the embedded TF-Serving-compatible server in the foreground.

``common/cli.py`` wires it as ``add_arguments(subparser)`` + ``run(args)``; ``python -m
serving`` runs the same thing standalone. User mistakes (missing folder, port in use,
bad config) print one sentence on stderr and return 2; Ctrl-C / SIGTERM stop cleanly (0).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from serving.http_protocol import DEFAULT_READ_TIMEOUT_S
from serving.rest import DEFAULT_MAX_BODY_BYTES
from serving.server import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HOST,
    DEFAULT_REST_PORT,
    ModelServer,
    ServerStartError,
)

USAGE_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``dlsuite serve``'s arguments to ``parser``."""
    parser.description = (
        "Serve every SavedModel under MODEL_BASE/<name>/<version>/ (or the models of a "
        "models.config) over TF Serving's REST and gRPC APIs. New versions are picked up "
        "without a restart."
    )
    parser.add_argument(
        "model_base",
        metavar="MODEL_BASE",
        nargs="?",
        help="folder of models (<name>/<version>/saved_model.pb), one model's folder, or a "
        "models.config file; a models.config inside the folder is used when present",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_REST_PORT,
        help="REST port (default %(default)s; 0 = any free port)",
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=DEFAULT_GRPC_PORT,
        help="gRPC port (default %(default)s; 0 = any free port)",
    )
    parser.add_argument("--no-grpc", action="store_true", help="do not start the gRPC API")
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to bind (default %(default)s: this machine only)",
    )
    parser.add_argument(
        "--model-config-file",
        metavar="PATH",
        help="TF Serving models.config (overrides MODEL_BASE)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often to look for new versions (default %(default)s; 0 = never)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="largest accepted request body; also bounds the decoded tensors of a request "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT_S,
        metavar="SECONDS",
        help="close a REST request that sends nothing for this long, with 408 "
        "(default %(default)s; 0 = never)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every REST request")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level of model loading messages (default %(default)s)",
    )


def _fail(message: str) -> int:
    print(f"dlsuite serve: {message.rstrip('.')}.", file=sys.stderr)
    return USAGE_ERROR


def _setup_logging(level: str) -> None:
    """Show model loading (and, with --access-log, request) messages on stderr."""
    logging.getLogger("serving").setLevel(level)
    if logging.getLogger().handlers:
        return  # the host application configured logging; leave it alone
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("serving", "uvicorn"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            # Our handler prints these lines; a root handler added later (any library's
            # logging.warning() calls basicConfig, as a failed SavedModel load does) must not
            # print them a second time.
            logger.propagate = False


def run(args: argparse.Namespace) -> int:
    """Start the server, block until Ctrl-C / SIGTERM, stop it. Returns an exit code."""
    source = args.model_config_file or args.model_base
    if not source:
        return _fail("give MODEL_BASE (a models folder) or --model-config-file")
    if not Path(source).exists():
        kind = "model config file" if args.model_config_file else "model folder"
        return _fail(f"{kind} '{source}' does not exist")
    for flag, port in (("--port", args.port), ("--grpc-port", args.grpc_port)):
        if not 0 <= port <= 65535:
            return _fail(f"{flag} must be between 0 and 65535, got {port}")
    if args.max_body_bytes <= 0:
        return _fail("--max-body-bytes must be positive")
    if args.poll_interval < 0:
        return _fail("--poll-interval cannot be negative")
    if not args.read_timeout >= 0:
        return _fail("--read-timeout cannot be negative")
    _setup_logging(args.log_level)
    server = ModelServer(
        source,
        host=args.host,
        rest_port=args.port,
        grpc_port=None if args.no_grpc else args.grpc_port,
        poll_interval=args.poll_interval,
        max_body_bytes=args.max_body_bytes,
        access_log=args.access_log,
        read_timeout=args.read_timeout,
    )
    try:
        server.start()
    except ServerStartError as exc:
        return _fail(str(exc))
    names = server.registry.model_names() if server.registry else []
    grpc_text = "off" if args.no_grpc else server.grpc_target
    print(
        f"Serving {len(names)} model(s) {names} from {source}\n"
        f"  REST  {server.rest_url}/v1/models/<name>\n  gRPC  {grpc_text}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    print("Server stopped.", flush=True)
    return 0

"""Error types shared by the server (REST and gRPC) and the clients.

Each error carries the HTTP status that TF Serving's REST API answers with and the
gRPC status code its gRPC API uses, so one ``raise`` serves both protocols and the
clients can re-raise the same classes on their side.
"""

from __future__ import annotations

import grpc


class ServingError(Exception):
    """Base class: a request that could not be answered. ``message`` is user-facing."""

    http_status: int = 500
    grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServingError, ValueError):
    """The request is malformed or does not fit the signature (HTTP 400)."""

    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(ServingError, LookupError):
    """Unknown model, version, label or signature (HTTP 404)."""

    http_status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND


class PayloadTooLarge(ServingError, ValueError):
    """The request body is over the configured limit (HTTP 413)."""

    http_status = 413
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(ServingError):
    """The server cannot answer right now, e.g. it is shutting down (HTTP 503)."""

    http_status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE


class InternalError(ServingError):
    """A fault on the server side, not caused by the request (HTTP 500)."""


_BY_HTTP = {400: InvalidArgument, 404: NotFound, 413: PayloadTooLarge, 503: Unavailable}

_BY_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.RESOURCE_EXHAUSTED: PayloadTooLarge,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
}


def from_http(status: int, message: str) -> ServingError:
    """The error class a client raises for an HTTP error ``status``."""
    cls = _BY_HTTP.get(status)
    if cls is None:
        cls = InvalidArgument if 400 <= status < 500 else InternalError
    err = cls(message)
    err.http_status = status
    return err


def from_grpc(code: grpc.StatusCode, message: str) -> ServingError:
    """The error class a client raises for a gRPC status ``code``."""
    return _BY_GRPC.get(code, InternalError)(message)

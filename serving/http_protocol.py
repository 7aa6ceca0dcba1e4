"""uvicorn's h11 protocol with ``{"error": ...}`` answers for bad HTTP and a read timeout.

Stock uvicorn answers a request it cannot parse (a request line or headers over the h11
buffer limit, garbage bytes) with a plain-text 400 and closes the socket at once; when the
client is still sending (a 1 MB URL) the unread bytes make the kernel reset the connection,
so the client sees ``ECONNRESET`` instead of the answer. It also keeps a connection whose
request never finishes open forever. This protocol:

* answers every protocol error as JSON ``{"error": ...}`` (400, like every malformed
  request; the message names the size limit when that was the problem);
* after such an answer, half-closes and reads (and drops) what the client still sends, up to
  ``DRAIN_BYTES`` or ``DRAIN_SECONDS``, so the client reads the answer instead of a reset;
* answers 408 ``{"error": ...}`` and closes when a started request (request line, headers or
  body) receives no bytes for ``read_timeout`` seconds; a connection that never sends a
  byte is closed after the same time.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_READ_TIMEOUT_S = 30.0
MAX_HEAD_BYTES = 64 * 1024  # request line + headers (h11's incomplete-event limit)
DRAIN_BYTES = 8 * 1024 * 1024
DRAIN_SECONDS = 5.0


def _json_response(conn: h11.Connection, status: int, message: str) -> bytes:
    """The bytes of a complete ``{"error": message}`` response with ``Connection: close``."""
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    reason = {400: b"Bad Request", 408: b"Request Timeout"}.get(status, b"")
    return b"".join(
        [
            conn.send(h11.Response(status_code=status, headers=headers, reason=reason)) or b"",
            conn.send(h11.Data(data=body)) or b"",
            conn.send(h11.EndOfMessage()) or b"",
        ]
    )


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with JSON protocol errors, a drain before close and a read timeout."""

    read_timeout: float = DEFAULT_READ_TIMEOUT_S
    max_head_bytes: int = MAX_HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._draining = False
        self._drained = 0
        self._protocol_error: h11.RemoteProtocolError | None = None
        next_event = self.conn.next_event

        def remember_error() -> Any:
            try:
                return next_event()
            except h11.RemoteProtocolError as exc:
                self._protocol_error = exc
                raise

        self.conn.next_event = remember_error  # type: ignore[method-assign]

    @classmethod
    def configured(cls, read_timeout: float, max_head_bytes: int) -> type[GuardedH11Protocol]:
        """A subclass with these limits (uvicorn instantiates the class it is given)."""
        return type(
            cls.__name__,
            (cls,),
            {"read_timeout": float(read_timeout), "max_head_bytes": int(max_head_bytes)},
        )

    # ------------------------------------------------------------------ asyncio hooks

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the read timer as soon as the client connects."""
        super().connection_made(transport)
        self._arm_read_timer()

    def data_received(self, data: bytes) -> None:
        """Drop bytes while draining after an error; otherwise parse and re-arm the timer."""
        if self._draining:
            self._drained += len(data)
            if self._drained > DRAIN_BYTES:
                self.transport.close()
            return
        super().data_received(data)
        if not self.transport.is_closing():
            self._arm_read_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Cancel our timers, then let uvicorn clean up."""
        for timer in (self._read_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    # ------------------------------------------------------------------ errors

    def send_400_response(self, msg: str) -> None:
        """Answer an unparseable request with JSON, then drain what the client still sends."""
        error = self._protocol_error
        if error is not None and str(error) == "Receive buffer too long":
            buffered = self.conn.trailing_data[0]
            what = "request line (URL) is" if b"\r\n" not in buffered else "headers are"
            message = f"Malformed request: the {what} larger than {self.max_head_bytes} bytes"
        else:
            detail = f": {error}" if error is not None and str(error) else ""
            message = f"Malformed HTTP request{detail}"
        self._answer_and_close(400, message)

    def _answer_and_close(self, status: int, message: str) -> None:
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            try:
                self.transport.write(_json_response(self.conn, status, message))
            except h11.LocalProtocolError:
                pass  # cannot send a response in this state: just close
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app's late answer is dropped
            self.cycle.message_event.set()
        self._start_draining()

    def _start_draining(self) -> None:
        """Half-close and read (dropping) until the client closes, to avoid a reset."""
        self._cancel_read_timer()
        self._draining = True
        self.flow.resume_reading()
        try:
            if self.transport.can_write_eof():
                self.transport.write_eof()
        except (OSError, RuntimeError):
            self.transport.close()
            return
        self._drain_timer = self.loop.call_later(DRAIN_SECONDS, self.transport.close)

    # ------------------------------------------------------------------ read timeout

    def _cancel_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _arm_read_timer(self) -> None:
        self._cancel_read_timer()
        if self.read_timeout > 0 and not self._draining:
            self._read_timer = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _waiting_for_request_bytes(self) -> bool:
        """True while a request has started but its head or body is incomplete."""
        their = self.conn.their_state
        if their is h11.SEND_BODY:
            return True
        return their is h11.IDLE and bool(self.conn.trailing_data[0])

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self._waiting_for_request_bytes():
            self.logger.warning("Closing a connection whose request stalled")
            self._answer_and_close(
                408,
                f"Request Timeout: no request bytes for {self.read_timeout:g} s; the request "
                "line, headers and body must keep arriving",
            )
        elif self.cycle is None and self.conn.their_state is h11.IDLE:
            self.transport.close()  # connected, never sent a byte

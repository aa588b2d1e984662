"""A plugin served from raw TCP sockets, for faults an ASGI app cannot produce.

`RawPlugin(behaviour)` listens on a free loopback port in background threads; `with plugin as
url:` serves it and closes everything on exit. The manifest (and health) are always served
validly, so a behaviour hits the `/v1/events` call; `backlog_full` is the exception, a listener
that never accepts, so even the manifest's connect hangs. Behaviours:

    healthy               a valid page of `events` (switch `behaviour` later to inject a fault)
    accept_then_silence   read the request, never send a byte
    drop_mid_body         200 with Content-Length 1000, 100 bytes of it, then close
    trickle               valid headers, then one byte every `trickle_interval` seconds forever
    oversized_no_length   a chunked body of `oversize_bytes`, streamed
    oversized_with_length a Content-Length of `oversize_bytes`, the body streamed
    redirect_oversized    a same-host 307 (to the same target plus `hop=1`, which is then
                          answered like `healthy`) whose chunked body is `oversize_bytes` long
    backlog_full          listen with backlog 0, never accept; the backlog is filled at start

Every loop polls the server's stop flag, so closing the server ends every connection within a
fraction of a second. What happened is recorded: `requests` (request targets) and `hangups`
(body bytes sent on each connection whose client went away before the body was complete).
"""

from __future__ import annotations

import json
import socket
import threading
from types import TracebackType
from typing import Any

BEHAVIOURS = frozenset(
    {
        "healthy",
        "accept_then_silence",
        "drop_mid_body",
        "trickle",
        "oversized_no_length",
        "oversized_with_length",
        "redirect_oversized",
        "backlog_full",
    }
)
_POLL = 0.1  # seconds every blocking socket call waits before re-checking the stop flag
_MAX_REQUEST_HEAD = 16 * 1024
_CHUNK = 64 * 1024


class BacklogNotFullError(RuntimeError):
    """The kernel kept accepting connections into a backlog-0 listener: no connect timeout."""


class _PeerGoneError(Exception):
    """The client closed the connection while the server was writing."""


class _StoppedError(Exception):
    """The server is closing."""


def manifest(plugin_id: str = "raw") -> dict[str, Any]:
    """The manifest every raw plugin serves."""
    return {
        "plugin_id": plugin_id,
        "name": "Raw plugin",
        "version": "1.0.0",
        "contract_version": "1.0",
        "venues": [{"id": "hall", "name": "The Hall", "timezone": "Europe/Lisbon"}],
        "refresh_interval_seconds": 3600,
        "max_page_size": 500,
    }


class RawPlugin:
    """A misbehaving plugin on a loopback port; a context manager yielding its URL."""

    def __init__(
        self,
        behaviour: str = "healthy",
        *,
        events: list[dict[str, Any]] | None = None,
        port: int = 0,
        oversize_bytes: int = 64 * 1024 * 1024,
        trickle_interval: float = 0.2,
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.behaviour = behaviour  # may be changed while serving, except to/from backlog_full
        self.events = events or []
        self.oversize_bytes = oversize_bytes
        self.trickle_interval = trickle_interval
        self.requests: list[str] = []
        self.hangups: list[int] = []
        self._port = port
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._fillers: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The plugin's base URL."""
        assert self._listener is not None, "not serving"
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> str:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener = listener
        try:
            listener.bind(("127.0.0.1", self._port))
            if self.behaviour == "backlog_full":
                listener.listen(0)
                self._fill_backlog()
            else:
                listener.listen(16)
                listener.settimeout(_POLL)
                self._start(self._accept_loop, "raw-accept")
        except BaseException:
            self.close()
            raise
        return self.url

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every loop, join the threads, close every socket."""
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        for filler in self._fillers:
            filler.close()
        self._fillers.clear()
        if self._listener is not None:
            self._listener.close()

    def hangups_seen(self) -> list[int]:
        """Body bytes sent on each connection whose client hung up before the body ended."""
        with self._lock:
            return list(self.hangups)

    def events_requests(self) -> list[str]:
        """The request targets of every `/v1/events` call so far."""
        with self._lock:
            return [target for target in self.requests if target.startswith("/v1/events")]

    # -- backlog_full ---------------------------------------------------------------------------

    def _fill_backlog(self, attempts: int = 6, probe_timeout: float = 0.3) -> None:
        """Connect until a connect times out: from then on every connect hangs."""
        assert self._listener is not None
        address = self._listener.getsockname()
        for _ in range(attempts):
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(probe_timeout)
            try:
                probe.connect(address)
            except TimeoutError:
                probe.close()
                return
            except BaseException:
                probe.close()
                raise
            self._fillers.append(probe)
        raise BacklogNotFullError(
            f"{attempts} connects to a backlog-0 listener that never accepts all succeeded"
        )

    # -- serving --------------------------------------------------------------------------------

    def _start(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(_POLL)
            self._start(self._handle, "raw-conn", conn)

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                target = self._read_request(conn)
                if target is None:
                    return
                with self._lock:
                    self.requests.append(target)
                path = target.split("?", 1)[0]
                if path == "/v1/manifest":
                    self._send_json(conn, manifest())
                elif path == "/v1/health":
                    self._send_json(conn, {"status": "ok", "detail": None})
                elif path == "/v1/events":
                    self._serve_events(conn, self.behaviour, target)
                else:
                    self._send(conn, _head(404, {"Content-Length": "0"}))
            except (_PeerGoneError, _StoppedError):
                return

    def _read_request(self, conn: socket.socket) -> str | None:
        """Read a request head; return its target, or None if the client left first."""
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self._recv(conn)
            if not chunk:
                return None
            head += chunk
            if len(head) > _MAX_REQUEST_HEAD:
                return None
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        return parts[1] if len(parts) == 3 else None

    def _recv(self, conn: socket.socket) -> bytes:
        while True:
            if self._stop.is_set():
                raise _StoppedError
            try:
                return conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return b""

    def _send(self, conn: socket.socket, data: bytes) -> int:
        """Send all of `data`; raise _PeerGoneError if the client goes away."""
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            if self._stop.is_set():
                raise _StoppedError
            try:
                sent += conn.send(view[sent:])
            except TimeoutError:
                continue
            except OSError:
                raise _PeerGoneError from None
        return sent

    def _send_json(self, conn: socket.socket, document: Any) -> None:
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        self._send(conn, _head(200, headers) + body)

    def _wait_for_close(self, conn: socket.socket) -> None:
        """Hold the connection, sending nothing, until the client or the server closes it."""
        while self._recv(conn):
            pass

    def _serve_events(self, conn: socket.socket, behaviour: str, target: str) -> None:
        json_head = {"Content-Type": "application/json"}
        if behaviour == "redirect_oversized" and "hop=1" in target.split("?", 1)[-1]:
            behaviour = "healthy"
        if behaviour == "healthy":
            self._send_json(conn, {"events": self.events, "next_cursor": None})
        elif behaviour == "accept_then_silence":
            self._wait_for_close(conn)
        elif behaviour == "drop_mid_body":
            self._send(conn, _head(200, {**json_head, "Content-Length": "1000"}) + b" " * 100)
        elif behaviour == "trickle":
            self._send(conn, _head(200, json_head))
            while not self._stop.wait(self.trickle_interval):
                self._send(conn, b" ")
        elif behaviour == "oversized_no_length":
            self._send(conn, _head(200, {**json_head, "Transfer-Encoding": "chunked"}))
            self._stream_chunked(conn)
        elif behaviour == "oversized_with_length":
            headers = {**json_head, "Content-Length": str(self.oversize_bytes)}
            self._send(conn, _head(200, headers))
            self._stream(conn, b" " * _CHUNK, self.oversize_bytes // _CHUNK, b"")
        elif behaviour == "redirect_oversized":
            location = f"{target}&hop=1" if "?" in target else f"{target}?hop=1"
            headers = {"Location": location, "Transfer-Encoding": "chunked"}
            self._send(conn, _head(307, {**json_head, **headers}))
            self._stream_chunked(conn)

    def _stream_chunked(self, conn: socket.socket) -> None:
        """Send `oversize_bytes` of blanks as a chunked body."""
        chunk = f"{_CHUNK:x}\r\n".encode() + b" " * _CHUNK + b"\r\n"
        self._stream(conn, chunk, self.oversize_bytes // _CHUNK, b"0\r\n\r\n")

    def _stream(self, conn: socket.socket, chunk: bytes, count: int, tail: bytes) -> None:
        """Send `chunk` `count` times, then `tail`; record a hang-up with the bytes sent."""
        sent = 0
        try:
            for _ in range(count):
                sent += self._send(conn, chunk)
            self._send(conn, tail)
        except _PeerGoneError:
            with self._lock:
                self.hangups.append(sent)
            raise


def _head(status: int, headers: dict[str, str]) -> bytes:
    reason = {200: "OK", 307: "Temporary Redirect", 404: "Not Found"}.get(status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}", "Connection: close", *_header_lines(headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _header_lines(headers: dict[str, str]) -> list[str]:
    return [f"{name}: {value}" for name, value in headers.items()]

"""One run of the command: a subprocess in its own process group, bounded in time and output.

The command runs without a shell, with stdin closed, as the leader of a new session, so that
`os.killpg` reaches everything it started. Stdout is collected up to a byte cap; stderr is read
at the same time and logged line by line. The run is over when the command has exited and its
stdout is closed (a process left behind holding stderr does not hold it up). Then, whatever the
outcome, what is left of its process group is killed: no process of the command outlives its
run, unless it left the group by starting a session of its own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
from collections import deque
from dataclasses import dataclass
from typing import cast

logger = logging.getLogger(__name__)

# What is kept of stderr: lines logged per run, the longest line logged, the tail in errors.
MAX_STDERR_LINES_LOGGED = 1000
MAX_STDERR_LINE_CHARS = 2000
STDERR_TAIL_LINES = 10
# After SIGKILL the leader is reaped and stderr closes at once, unless a process that left the
# group holds stderr open; that is not waited for longer than this.
REAP_SECONDS = 5.0


class RunError(Exception):
    """The command could not be started, timed out, printed too much, or exited non-zero."""


@dataclass(frozen=True)
class Command:
    """A command to run and the limits of one run of it."""

    argv: list[str]
    timeout_seconds: float
    max_output_bytes: int
    env: dict[str, str] | None = None
    """The command's environment; None inherits the service's."""

    @property
    def name(self) -> str:
        """How logs and errors name the command: its line, with file names for paths."""
        shown = shlex.join(os.path.basename(arg) if os.sep in arg else arg for arg in self.argv)
        return shown if len(shown) <= 80 else shown[:79] + "…"


def _kill_group(pgid: int) -> None:
    """SIGKILL every process left in the group; nothing left is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _StderrLog:
    """Stderr, logged at WARNING one line at a time, of which the last lines are kept."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._pending = b""
        self._lines = 0
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def feed(self, data: bytes) -> None:
        *lines, self._pending = (self._pending + data).split(b"\n")
        for line in lines:
            self._line(line)
        if len(self._pending) > MAX_STDERR_LINE_CHARS * 4:  # a line that never ends is cut
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._line(self._pending)
            self._pending = b""

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if len(text) > MAX_STDERR_LINE_CHARS:
            text = text[: MAX_STDERR_LINE_CHARS - 1] + "…"
        self.tail.append(text)
        self._lines += 1
        if self._lines <= MAX_STDERR_LINES_LOGGED:
            logger.warning("%s stderr: %s", self._name, text)
        elif self._lines == MAX_STDERR_LINES_LOGGED + 1:
            logger.warning("%s stderr: further lines of this run are not logged", self._name)


class _Run(asyncio.SubprocessProtocol):
    """Collects one run's output as it arrives, and says when the run is over."""

    def __init__(self, command: Command, loop: asyncio.AbstractEventLoop) -> None:
        self.cap = command.max_output_bytes
        self.stdout = bytearray()
        self.over_cap = False
        self.stderr = _StderrLog(command.name)
        self.exited = loop.create_future()
        self.stderr_closed = loop.create_future()
        self.finished = loop.create_future()  # exited with stdout closed, or over the cap
        self._stdout_closed = False
        self._pid: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport has the interface without subclassing asyncio's.
        self._pid = cast(asyncio.SubprocessTransport, transport).get_pid()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 2:
            self.stderr.feed(data)
        elif not self.over_cap:
            if len(self.stdout) + len(data) <= self.cap:
                self.stdout += data
                return
            # Stop collecting, and stop the command: its output can no longer be used.
            self.over_cap = True
            self.stdout.clear()
            if self._pid is not None:
                _kill_group(self._pid)
            self._finish()

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:  # noqa: ARG002
        if fd == 1:
            self._stdout_closed = True
            if self.exited.done():
                self._finish()
        elif fd == 2:
            self.stderr.flush()
            self.stderr_closed.set_result(None)

    def process_exited(self) -> None:
        self.exited.set_result(None)
        if self._stdout_closed:
            self._finish()

    def _finish(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


async def run(command: Command) -> bytes:
    """Run the command to its end and return its stdout; RunError if the run failed."""
    name = command.name
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.subprocess_exec(
            lambda: _Run(command, loop),
            *command.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=command.env,
            start_new_session=True,
        )
    except OSError as error:
        raise RunError(f"{name}: cannot be started: {error}") from error
    try:
        await asyncio.wait_for(asyncio.shield(protocol.finished), command.timeout_seconds)
    except TimeoutError:
        raise RunError(f"{name}: timed out after {command.timeout_seconds:g} s; killed") from None
    finally:
        # Reached on success, failure, timeout and cancellation alike. Once the group is dead,
        # the leader is reaped and stderr's last lines arrive at once.
        _kill_group(transport.get_pid())
        await asyncio.wait([protocol.exited, protocol.stderr_closed], timeout=REAP_SECONDS)
        transport.close()
        protocol.stderr.flush()
    if protocol.over_cap:
        raise RunError(
            f"{name}: printed more than {command.max_output_bytes} bytes on stdout; killed"
        )
    status = transport.get_returncode()
    if status != 0:
        how = f"was killed by signal {-status}" if status and status < 0 else f"exited {status}"
        tail = " | ".join(protocol.stderr.tail)
        raise RunError(f"{name}: {how}" + (f"; stderr: {tail}" if tail else ""))
    return bytes(protocol.stdout)

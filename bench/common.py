"""Helpers shared by the benchmarks: processes, the SQLite store, RSS/CPU sampling, percentiles.

Run the benchmarks from the repository root, e.g. `uv run python bench/p1_fanout.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PLUGIN_SERVER = BENCH / "plugin_server.py"
_MARQUEE_VARIABLES = {"PORT", "HOST", "PLUGIN_URLS", "DATABASE_URL", "ADMIN_TOKEN"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- processes -----------------------------------------------------------------------------


def service_env(**variables: str) -> dict[str, str]:
    """The current environment without Marquee's variables, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in _MARQUEE_VARIABLES}
    env.update(variables)
    return env


@contextlib.contextmanager
def spawned(
    argv: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `argv` with its output in `log`; SIGTERM it (then SIGKILL) afterwards, always."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(argv), cwd=ROOT, env=env or service_env(), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM a process we started and wait for it; SIGKILL it if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_http(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 60.0) -> None:
    """Wait until `url` answers 200; fail with the log's tail if the process exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout}s")
        time.sleep(0.1)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as path:
        yield Path(path)


@contextlib.contextmanager
def plugin_server(
    work: Path, hosts: Sequence[str], port: int, events: int, page_size: int, delay: float = 0.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `plugin_server.py` on every host of `hosts` at `port`; wait until it listens."""
    hosts_file = work / "hosts.txt"
    hosts_file.write_text("\n".join(hosts))
    log = work / "plugin-server.log"
    argv = [
        sys.executable,
        str(PLUGIN_SERVER),
        "--hosts-file",
        str(hosts_file),
        "--port",
        str(port),
        "--events",
        str(events),
        "--page-size",
        str(page_size),
        "--delay",
        str(delay),
    ]
    with spawned(argv, log) as process:
        wait_http(process, f"http://{hosts[-1]}:{port}/v1/health", log)
        yield process


def base_env(database: Path, port: int, **variables: str) -> dict[str, str]:
    """Environment for `python -m base_service` on an SQLite file."""
    return service_env(
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        HOST="127.0.0.1",
        PORT=str(port),
        **variables,
    )


@contextlib.contextmanager
def base_service(
    work: Path, database: Path, port: int, **variables: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run the real base service (`python -m base_service`) until /healthz answers."""
    log = work / f"base-{port}.log"
    argv = [sys.executable, "-m", "base_service"]
    with spawned(argv, log, base_env(database, port, **variables)) as process:
        wait_http(process, f"http://127.0.0.1:{port}/healthz", log)
        yield process


def loopback_hosts(count: int) -> list[str]:
    """`count` distinct loopback addresses: 127.0.1.1, 127.0.1.2, … (skipping .0 and .255)."""
    hosts: list[str] = []
    third = 1
    while len(hosts) < count:
        for fourth in range(1, 255):
            hosts.append(f"127.0.{third}.{fourth}")
            if len(hosts) == count:
                break
        third += 1
    return hosts


# --- the store -----------------------------------------------------------------------------


def migrate(database: Path) -> None:
    """Create the base service's schema in an SQLite file (its own Alembic migrations)."""
    code = (
        "import asyncio, sys\n"
        "from base_service.store.database import create_engine, migrate\n"
        "async def main():\n"
        "    engine = create_engine(sys.argv[1])\n"
        "    await migrate(engine)\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, f"sqlite+aiosqlite:///{database}"],
        cwd=ROOT,
        check=True,
        env=service_env(),
    )


def sql_time(value: datetime) -> str:
    """A datetime as the store keeps it in SQLite: naive UTC text with microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_sql_time(value: str) -> datetime:
    """The inverse of `sql_time`."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def insert_plugins(
    database: Path, plugin_ids: Sequence[str], urls: Sequence[str], next_run_at: datetime
) -> None:
    """Write plugin state rows (as if registered before) with a next run far ahead."""
    now = sql_time(datetime.now(UTC))
    due = sql_time(next_run_at)
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.executemany(
            "INSERT INTO plugins (plugin_id, url, state, next_run_at, consecutive_failures,"
            " updated_at, run_requested, force_requested) VALUES (?, ?, 'ok', ?, 0, ?, 0, 0)",
            [(pid, url, due, now) for pid, url in zip(plugin_ids, urls, strict=True)],
        )


def run_rows(database: Path) -> list[dict[str, Any]]:
    """The runs table, read from the side (WAL lets us read while the base writes)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("SELECT * FROM runs")]
        except sqlite3.OperationalError:  # not migrated yet
            return []


def wait_runs(
    database: Path, count: int, timeout: float, process: subprocess.Popen[bytes]
) -> tuple[list[dict[str, Any]], datetime]:
    """Poll the runs table until `count` runs have finished; return them all, and when that
    was first seen: the moment their outcomes, committed with their applied events, became
    visible (at most one 10 ms poll late). A run's `finished_at` is read before its write
    commits (and SQLite's checkpoint, when due, follows the commit), so it comes earlier."""
    deadline = time.monotonic() + timeout
    while True:
        done = finished_runs(database)
        if done >= count:
            seen = datetime.now(UTC)
            rows = [row for row in run_rows(database) if row["finished_at"] is not None]
            return rows, seen
        if process.poll() is not None:
            raise RuntimeError(f"base service exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {count} runs finished in {timeout}s")
        time.sleep(0.01)


def finished_runs(database: Path) -> int:
    """How many runs have finished (0 before the base has created its database)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            return int(db.execute(_FINISHED).fetchone()[0])
    except sqlite3.OperationalError:  # no file, or not migrated yet
        return 0


_FINISHED = "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL"


def run_span(rows: Sequence[dict[str, Any]], applied: datetime) -> float:
    """Seconds from the first run's start until every run was seen applied (`wait_runs`)."""
    start = min(parse_sql_time(row["started_at"]) for row in rows)
    return (applied - start).total_seconds()


# --- measuring -----------------------------------------------------------------------------


def proc_status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/<pid>/status (VmRSS, VmHWM, …); 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/<pid>/stat utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class RssSampler:
    """Sample a process's VmRSS every `interval` seconds in a thread; keep the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        # VmHWM is the kernel's own high-water mark: it catches peaks between samples.
        self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmHWM"))

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmRSS"))
            self.samples += 1
            self._stop.wait(self.interval)


@contextlib.contextmanager
def profiled(pid: int, output: Path | None, seconds: float | None = None) -> Iterator[None]:
    """Sample `pid` with py-spy while the block runs and write a flame graph (SVG) to `output`.

    Only the thread holding the GIL is sampled: where the Python CPU goes, which is what
    bounds these benchmarks (time in SQLite or the kernel, without the GIL, is left out).
    With a `.txt` output the stacks are written collapsed, to grep: one stack and its sample
    count per line. Nothing happens when `output` is None.
    """
    if output is None:
        yield
        return
    # The py-spy beside this interpreter (the project's venv), else the one on PATH.
    beside = Path(sys.executable).with_name("py-spy")
    spy = str(beside) if beside.exists() else "py-spy"
    argv = [spy, "record", "--pid", str(pid), "--rate", "250", "--nonblocking", "--gil"]
    if seconds is not None:
        argv += ["--duration", str(int(seconds) + 1)]
    fmt = "raw" if output.suffix == ".txt" else "flamegraph"
    with (output.with_suffix(".log")).open("wb") as log:
        process = subprocess.Popen(
            [*argv, "--format", fmt, "--output", str(output)], stdout=log, stderr=log
        )
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0 to 100) of `values`, linear between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def load_average() -> str:
    """The 1-minute load average, for the record (another job may share the machine)."""
    return Path("/proc/loadavg").read_text().split()[0]


def machine() -> str:
    """Cores, memory, Python and SQLite versions, as the README's table gives them."""
    mem_kb = proc_status_kb_meminfo()
    return (
        f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"load {load_average()}"
    )


def proc_status_kb_meminfo() -> int:
    """MemTotal in kB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def report(title: str, rows: Sequence[tuple[str, str]]) -> None:
    """Print a small aligned table of (name, value)."""
    print(f"\n== {title}  [{machine()}]")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def dump_json(path: Path | None, data: dict[str, Any]) -> None:
    """Write the figures as JSON when asked (`--json`)."""
    if path is not None:
        path.write_text(json.dumps(data, indent=2))

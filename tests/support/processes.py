"""Start the services as real processes, the way operators run them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.base import wait_until

ROOT = Path(__file__).resolve().parents[2]


def service_env(**variables: str) -> dict[str, str]:
    """The current environment without Marquee's variables, plus `variables`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PORT", "HOST", "PLUGIN_URLS", "DATABASE_URL", "ADMIN_TOKEN"}
    }
    env.update(variables)
    return env


@contextlib.contextmanager
def spawned(module: str, log: Path, **variables: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m module` with its output in `log`; SIGTERM it (then SIGKILL) afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env=service_env(**variables),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait until `url` answers 200; fail with the log if the process exits first."""

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"{process.args} exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, timeout=30, what=f"{url} to answer")


@contextlib.contextmanager
def service(
    module: str, url: str, log: Path, **variables: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m module` until `url` answers; stop it afterwards."""
    with spawned(module, log, **variables) as process:
        wait_answering(process, url, log)
        yield process

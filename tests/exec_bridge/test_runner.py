"""Running the command for real: output, time and size limits, process groups, one run at a time,
and what a run's output must be to be served."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from exec_bridge.generated.plugin_api import Status
from exec_bridge.result import Results, Unavailable
from exec_bridge.runner import Command, RunError, run
from tests.exec_bridge.sources import (
    VENUES,
    ScriptedSource,
    event,
    manifest,
    sample_events,
    write_script,
)
from tests.support.base import wait_until


def command(argv: list[str], timeout: float = 30, max_output: int = 1024 * 1024) -> Command:
    return Command(argv=argv, timeout_seconds=timeout, max_output_bytes=max_output)


def is_gone(pid: int) -> bool:
    """True once the process no longer runs: no such pid, or a zombie awaiting its reaper."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


async def test_a_successful_run_returns_stdout(tmp_path: Path) -> None:
    argv = write_script(tmp_path, 'import sys; sys.stdout.write("héllo " * 3)')
    assert await run(command(argv)) == "héllo héllo héllo ".encode()


async def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    argv = write_script(
        tmp_path,
        f"""
        import subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        with open({str(pid_file)!r}, "w") as out:
            out.write(str(grandchild.pid))
        time.sleep(600)
        """,
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(RunError, match="timed out after 2 s"):
        await run(command(argv, timeout=2))
    assert loop.time() - started < 10
    grandchild = int(pid_file.read_text())
    # SIGKILL is delivered asynchronously; the grandchild would otherwise sleep for 10 minutes.
    wait_until(lambda: is_gone(grandchild), timeout=5, what=f"grandchild {grandchild} to die")


async def test_processes_left_behind_by_a_successful_run_are_killed(tmp_path: Path) -> None:
    argv = write_script(
        tmp_path,
        """
        import subprocess, sys
        lingering = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"],
            stdout=subprocess.DEVNULL,
        )
        print(lingering.pid)
        """,
    )
    lingering = int(await run(command(argv)))
    wait_until(lambda: is_gone(lingering), timeout=5, what=f"process {lingering} to die")


async def test_output_over_the_cap_kills_the_run(tmp_path: Path) -> None:
    argv = write_script(
        tmp_path,
        """
        import sys
        while True:
            sys.stdout.write("x" * 65536)
        """,
    )
    with pytest.raises(RunError, match="printed more than 100000 bytes on stdout; killed"):
        await run(command(argv, timeout=60, max_output=100_000))


async def test_output_at_the_cap_is_accepted(tmp_path: Path) -> None:
    argv = write_script(tmp_path, 'import sys; sys.stdout.write("y" * 100_000)')
    assert len(await run(command(argv, max_output=100_000))) == 100_000


async def test_a_non_zero_exit_fails_with_stderr_which_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    argv = write_script(
        tmp_path,
        """
        import sys
        sys.stdout.write("{}")
        sys.stderr.write("reading the box office feed\\nboom: the feed answered 500\\n")
        sys.exit(3)
        """,
        name="box_office.py",
    )
    with (
        caplog.at_level(logging.WARNING, logger="exec_bridge.runner"),
        pytest.raises(RunError) as failure,
    ):
        await run(command(argv))
    message = str(failure.value)
    assert "exited 3" in message and "boom: the feed answered 500" in message
    assert "box_office.py" in message
    logged = [r for r in caplog.records if r.name == "exec_bridge.runner"]
    assert all(r.levelno == logging.WARNING for r in logged)
    lines = [r.getMessage() for r in logged]
    assert any("box_office.py" in line and "reading the box office feed" in line for line in lines)
    assert any("box_office.py" in line and "boom: the feed answered 500" in line for line in lines)


async def test_death_by_signal_is_a_failure(tmp_path: Path) -> None:
    argv = write_script(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    with pytest.raises(RunError, match="killed by signal 15"):
        await run(command(argv))


async def test_a_missing_program_is_a_failed_run(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="cannot be started"):
        await run(command([str(tmp_path / "no-such-program")]))


async def test_huge_stderr_is_drained_and_bounded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    argv = write_script(
        tmp_path,
        """
        import sys
        for n in range(5000):
            sys.stderr.write(f"line {n} " + "z" * 5000 + "\\n")
        sys.stdout.write("done")
        """,
    )
    with caplog.at_level(logging.WARNING, logger="exec_bridge.runner"):
        assert await run(command(argv)) == b"done"
    logged = [r.getMessage() for r in caplog.records if r.name == "exec_bridge.runner"]
    assert len(logged) == 1001  # the first 1000 lines, then one notice
    assert "further lines of this run are not logged" in logged[-1]
    assert max(len(line) for line in logged) < 2200


async def test_non_json_output_is_a_failed_run(tmp_path: Path) -> None:
    argv = write_script(tmp_path, 'print("<html>oops</html>")')
    results = Results(command(argv), cache_seconds=300)
    with pytest.raises(Unavailable, match="not JSON"):
        await results.fresh()
    health = await results.health()
    assert health.status == Status.down and "not JSON" in (health.detail or "")


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ({"events": []}, "has no `manifest`"),
        ({"manifest": manifest(), "events": {}}, "`events` is not a list"),
        ({"manifest": {**manifest(), "plugin_id": "Not A Slug"}, "events": []}, "plugin_id"),
        ({"manifest": manifest(venues=["a", "a"]), "events": []}, "venue id more than once"),
    ],
)
async def test_an_invalid_manifest_or_shape_is_a_failed_run(
    tmp_path: Path, output: object, reason: str
) -> None:
    argv = write_script(tmp_path, f"print({json.dumps(json.dumps(output))})")
    with pytest.raises(Unavailable, match=reason):
        await Results(command(argv), cache_seconds=300).fresh()


async def test_invalid_events_are_dropped_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = sample_events(3)
    start = good[0]["start"]
    bad: list[Any] = [
        {"id": "no-title", "venue_id": VENUES[0], "start": start},
        event("naive", "2030-01-01T20:00:00"),
        event("elsewhere", start, venue_id="unknown-venue"),
        event("backwards", start, end="2000-01-01T00:00:00Z"),
        event(good[1]["id"], start, title="a second event with the same id"),
        "not an object",
    ]
    source = ScriptedSource(tmp_path)
    source.serve([good[0], *bad[:3], good[1], *bad[3:], good[2]])
    results = Results(command(source.argv), cache_seconds=300)
    with caplog.at_level(logging.WARNING, logger="exec_bridge.protocol"):
        result = await results.fresh()
    assert [e.id for e in result.everything.events] == [e["id"] for e in good]
    assert result.everything.events[1].title == good[1]["title"]  # the first of an id wins
    assert result.dropped == len(bad)
    dropped = [r.getMessage() for r in caplog.records if r.name == "exec_bridge.protocol"]
    assert len(dropped) == len(bad)
    for reason in ("title", "timezone", "not one of the manifest's venues", "end is before"):
        assert any(reason in line for line in dropped), reason
    health = await results.health()
    assert health.status == Status.ok
    assert "3 events" in (health.detail or "") and "6 invalid events dropped" in (
        health.detail or ""
    )


async def test_concurrent_requests_share_one_run(tmp_path: Path) -> None:
    source = ScriptedSource(tmp_path)
    source.serve(sample_events(4))
    results = Results(command(source.argv), cache_seconds=300)
    together = await asyncio.gather(*(results.fresh() for _ in range(8)))
    assert source.runs() == 1
    assert all(result is together[0] for result in together)
    # Within CACHE_SECONDS the result is reused without running the command.
    assert await results.fresh() is together[0]
    assert source.runs() == 1


async def test_an_expired_result_is_refreshed_by_one_run(tmp_path: Path) -> None:
    source = ScriptedSource(tmp_path)
    source.serve(sample_events(2))
    results = Results(command(source.argv), cache_seconds=0)
    first = await results.fresh()
    source.serve(sample_events(5))
    second = await asyncio.gather(*(results.fresh() for _ in range(4)))
    assert source.runs() == 2
    assert len(first.everything.events) == 2
    assert {len(r.everything.events) for r in second} == {5}
    # `current` serves what there is without running the command.
    assert await results.current() is second[0]
    assert source.runs() == 2


async def test_a_failed_refresh_keeps_the_last_good_result(tmp_path: Path) -> None:
    source = ScriptedSource(tmp_path)
    source.serve(sample_events(2))
    results = Results(command(source.argv), cache_seconds=0)
    good = await results.fresh()
    source.fail("the box office is closed\n")
    assert await results.fresh() is good
    health = await results.health()
    assert health.status == Status.degraded
    assert "the box office is closed" in (health.detail or "")
    source.serve(sample_events(3))
    assert len((await results.fresh()).everything.events) == 3
    assert (await results.health()).status == Status.ok


async def test_closing_kills_the_run_in_flight(tmp_path: Path) -> None:
    pid_file = tmp_path / "source.pid"
    argv = write_script(
        tmp_path,
        f"""
        import os, time
        with open({str(pid_file)!r}, "w") as out:
            out.write(str(os.getpid()))
        time.sleep(600)
        """,
    )
    results = Results(command(argv, timeout=600), cache_seconds=300)
    results.refresh()
    wait = asyncio.get_running_loop().run_in_executor(
        None, lambda: wait_until(pid_file.exists, timeout=10, what="the script to start")
    )
    await wait
    await results.aclose()
    pid = int(pid_file.read_text())
    wait_until(lambda: is_gone(pid), timeout=5, what=f"the script {pid} to die")

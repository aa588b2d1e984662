"""The shared store suite: every test runs against SQLite and against PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    String,
    Table,
    TableClause,
    column,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection, Engine, make_url

from base_service.generated.plugin_api import Event, Manifest
from base_service.store import ingest, leases, reads, state
from base_service.store.database import Store, alembic_config, create_engine, migrate
from base_service.store.tables import (
    events,
    metadata,
    plugins,
    staged_events,
    staged_removals,
    venues,
)
from tests.support.fake_plugin import FakePlugin, make_event

NOW = datetime(2027, 1, 1, tzinfo=UTC)
MANIFEST = Manifest.model_validate(FakePlugin().manifest())


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """The store as the base uses it: on SQLite, reads and writes in threads of their own."""
    engine = create_engine(database_url)
    await migrate(engine)
    store = Store(engine)
    await store.write(state.register_plugins, [("p", "http://p", NOW)], NOW)
    yield store
    await store.dispose()


def _events(*numbers: int, **fields: object) -> list[Event]:
    return [Event.model_validate(make_event(n, **fields)) for n in numbers]


async def _stage(store: Store, *pages: list[Event], now: datetime = NOW) -> int:
    run_id, _ = await store.write(state.start_run, "p", "schedule", now)
    for page in pages:
        await store.write(ingest.stage_page, run_id, "p", page)
    return run_id


async def _run(store: Store, *pages: list[Event], now: datetime = NOW) -> ingest.ApplyCounts:
    run_id = await _stage(store, *pages, now=now)
    return await store.write(
        ingest.apply_run, run_id=run_id, plugin_id="p", manifest=MANIFEST, now=now
    )


def _titles(conn: Connection) -> dict[str, tuple[str, datetime | None]]:
    rows = conn.execute(select(events)).mappings().all()
    return {row["event_id"]: (row["title"], row["removed_at"]) for row in rows}


async def _stored(store: Store) -> dict[str, tuple[str, datetime | None]]:
    return await store.read(_titles)


async def test_migrations_match_the_tables(store: Store) -> None:
    diff = await store.read(
        lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
    )
    assert diff == []


async def test_sqlite_connections_are_tuned_alike(sqlite_url: str) -> None:
    """Reads, writes and the async engine's connections: WAL, and deleted rows not shredded
    with extra writes (Debian's SQLite shreds by default)."""
    engine = create_engine(sqlite_url)
    await migrate(engine)
    store = Store(engine)

    def pragmas(conn: Connection) -> tuple[object, ...]:
        return tuple(
            conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "secure_delete", "synchronous")
        )

    try:
        async with engine.connect() as conn:
            through_engine = await conn.run_sync(pragmas)
        tuned = ("wal", 2, 1)  # secure_delete 2 is FAST; synchronous 1 is NORMAL
        assert await store.read(pragmas) == tuned
        assert await store.read(pragmas, long=True) == tuned
        assert await store.write(pragmas) == tuned
        assert through_engine == tuned
    finally:
        await store.dispose()


async def test_migrating_twice_is_harmless(store: Store) -> None:
    await migrate(store.engine)


async def test_a_write_commits_whole_or_not_at_all(store: Store) -> None:
    """A unit of work is one transaction: committed when it returns, rolled back when it
    raises or is a trial (`commit=False`)."""
    await _run(store, _events(0))

    def rename_then(conn: Connection, fail: bool) -> str:
        conn.execute(update(events).values(title="Renamed"))
        if fail:
            raise LookupError("halfway")
        return _titles(conn)["ev-0"][0]

    with pytest.raises(LookupError, match="halfway"):
        await store.write(rename_then, True)
    assert await store.write(rename_then, False, commit=False) == "Renamed"
    assert (await _stored(store))["ev-0"][0] == "Show 0"
    assert await store.write(rename_then, False) == "Renamed"
    assert (await _stored(store))["ev-0"][0] == "Renamed"


async def test_apply_inserts_updates_and_removes(store: Store) -> None:
    first = await _run(store, _events(0, 1), _events(2))
    assert (first.inserted, first.updated, first.removed) == (3, 0, 0)
    later = NOW + timedelta(hours=1)
    second = await _run(store, _events(0) + _events(1, title="New"), now=later)
    assert (second.inserted, second.updated, second.removed) == (0, 1, 1)
    stored = await _stored(store)
    assert stored == {
        "ev-0": ("Show 0", None),
        "ev-1": ("New", None),
        "ev-2": ("Show 2", later),
    }


async def test_an_unchanged_snapshot_changes_nothing(store: Store) -> None:
    await _run(store, _events(0, 1))
    again = await _run(store, _events(1, 0), now=NOW + timedelta(hours=1))
    assert (again.inserted, again.updated, again.removed) == (0, 0, 0)


async def test_a_removed_event_that_returns_is_restored(store: Store) -> None:
    await _run(store, _events(0, 1))
    await _run(store, _events(0))
    back = await _run(store, _events(0, 1))
    assert (back.inserted, back.updated, back.removed) == (0, 1, 0)
    assert (await _stored(store))["ev-1"] == ("Show 1", None)


async def test_duplicates_keep_the_first_row(store: Store) -> None:
    counts = await _run(store, _events(0, 1), _events(1, title="Dup"))
    assert counts.duplicates == ["ev-1"] and counts.duplicate_count == 1
    assert (await _stored(store))["ev-1"] == ("Show 1", None)


async def test_a_manifest_without_venues_retires_the_stored_ones(store: Store) -> None:
    """The contract lets a manifest list no venues (the last one closed, say)."""
    await _run(store, _events(0))
    later = NOW + timedelta(hours=1)
    run_id = await _stage(store, now=later)
    no_venues = MANIFEST.model_copy(update={"venues": []})
    counts = await store.write(
        ingest.apply_run, run_id=run_id, plugin_id="p", manifest=no_venues, now=later
    )
    assert (counts.inserted, counts.removed) == (0, 1)
    retired = await store.read(
        lambda conn: set(conn.execute(select(venues.c.removed_at)).scalars())
    )
    assert retired == {later}


async def test_a_page_larger_than_one_insert_is_staged_whole_and_in_order(store: Store) -> None:
    """On SQLite a page goes in as multi-row INSERTs of a power of two rows, at most 1,024:
    a page of 1,900 takes seven, and the first of two same-id events, in the first and the
    last, still wins."""
    page = _events(*range(1899)) + _events(0, title="Later duplicate")
    counts = await _run(store, page)
    assert (counts.inserted, counts.duplicates, counts.duplicate_count) == (1899, ["ev-0"], 1)
    stored = await _stored(store)
    assert len(stored) == 1899
    assert stored["ev-0"] == ("Show 0", None) and stored["ev-1898"] == ("Show 1898", None)


async def test_pages_of_every_size_share_a_few_staging_statements(sqlite_url: str) -> None:
    """The sqlite3 module keeps each connection's last 128 statements prepared, and a
    statement for hundreds of rows holds about a megabyte: pages of 300 different sizes
    must be staged with a handful of distinct statements (powers of two rows), not 300."""
    store = Store(create_engine(sqlite_url))
    await migrate(store.engine)
    await store.write(state.register_plugins, [("p", "http://p", NOW)], NOW)
    statements: set[str] = set()

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO staged_events"):
            statements.add(statement)

    sa_event.listen(Engine, "before_cursor_execute", seen)
    try:
        run_id = await _stage(store)
        page = _events(*range(300))
        for size in range(1, 301):
            await store.write(ingest.stage_page, run_id, "p", page[:size])
        staged = await store.read(
            lambda conn: conn.execute(select(func.count()).select_from(staged_events)).scalar()
        )
    finally:
        sa_event.remove(Engine, "before_cursor_execute", seen)
        await store.dispose()
    assert staged == 300 * 301 // 2
    assert len(statements) == 9  # 1, 2, 4, … 256 rows


async def test_a_discarded_run_leaves_stored_events_alone(store: Store) -> None:
    await _run(store, _events(0, 1))
    before = await _stored(store)
    run_id = await _stage(store, _events(5, 6))
    await store.write(ingest.delete_staging, [run_id])
    assert await _stored(store) == before
    staged = await store.read(
        lambda conn: conn.execute(select(func.count()).select_from(staged_events)).scalar()
    )
    assert staged == 0


def _staged_by_run(conn: Connection) -> dict[int, list[str]]:
    """Each run's staged event ids and removed ids, in the order they were staged."""
    staged: dict[int, list[str]] = {}
    for table in (staged_events, staged_removals):
        for run_id, event_id in conn.execute(
            select(table.c.run_id, table.c.event_id).order_by(table.c.seq)
        ):
            staged.setdefault(run_id, []).append(event_id)
    return staged


async def test_discarding_runs_leaves_what_other_runs_staged(store: Store) -> None:
    """A run's staging is deleted whole, by its own rows (SQLite empties a table that holds
    nothing else at once): runs staged before, between and after it keep every row."""
    runs = []
    for first in (0, 10, 20, 30):
        run_id, _ = await store.write(state.start_run, "p", "schedule", NOW)
        await store.write(ingest.stage_page, run_id, "p", _events(first, first + 1), [f"x{first}"])
        runs.append(run_id)
    a, b, c, d = runs
    await store.write(ingest.delete_staging, [a, c])  # b lies between the two
    assert await store.read(_staged_by_run) == {
        b: ["ev-10", "ev-11", "x10"],
        d: ["ev-30", "ev-31", "x30"],
    }
    await store.write(ingest.delete_staging, [d])
    assert await store.read(_staged_by_run) == {b: ["ev-10", "ev-11", "x10"]}
    await store.write(ingest.delete_staging, [b])  # the last: its tables emptied
    assert await store.read(_staged_by_run) == {}
    e = await _stage(store, _events(40))  # staging goes on after a table was emptied
    assert await store.read(_staged_by_run) == {e: ["ev-40"]}
    f, _ = await store.write(state.start_run, "p", "schedule", NOW)
    await store.write(ingest.stage_page, f, "p", [], ["x50"])  # a change set's removals alone
    await store.write(ingest.delete_staging, [e])  # each table holds one run's rows: e's, f's
    assert await store.read(_staged_by_run) == {f: ["x50"]}


async def test_on_sqlite_a_staging_table_holding_one_run_alone_is_emptied_whole(
    sqlite_url: str,
) -> None:
    """What makes a large run's cleanup cheap: a staging table that holds only the run's rows
    is emptied by a DELETE without WHERE (SQLite frees its pages at once, not row by row); one
    that holds another run's rows keeps the WHERE, and an empty one is not touched."""
    store = Store(create_engine(sqlite_url))
    await migrate(store.engine)
    await store.write(state.register_plugins, [("p", "http://p", NOW)], NOW)
    a, b = await _stage(store, _events(0)), await _stage(store, _events(1))
    deletes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("DELETE"):
            deletes.append(" ".join(statement.split()))

    sa_event.listen(Engine, "before_cursor_execute", seen)
    try:
        await store.write(ingest.delete_staging, [a])  # b's rows stay
        await store.write(ingest.delete_staging, [b])  # b's rows alone
    finally:
        sa_event.remove(Engine, "before_cursor_execute", seen)
        await store.dispose()
    assert len(deletes) == 2  # staged_removals, empty, is not touched
    assert deletes[0].startswith("DELETE FROM staged_events WHERE staged_events.run_id IN")
    assert deletes[1] == "DELETE FROM staged_events"


async def test_a_write_on_sqlite_holds_the_write_lock_from_its_start(sqlite_url: str) -> None:
    """What a write reads, no other connection changes before it commits (`delete_staging`
    decides by what it reads): the write takes SQLite's write lock at once, not at its first
    change. Another connection, here with a busy timeout of 0.1 s, is kept out meanwhile."""
    store = Store(create_engine(sqlite_url))
    await migrate(store.engine)
    database = make_url(sqlite_url).database
    assert database is not None
    other_writer: list[str] = []

    def read_then_let_another_write(conn: Connection) -> None:
        conn.execute(select(func.count()).select_from(staged_removals)).scalar_one()
        other = sqlite3.connect(database, timeout=0.1)
        try:
            other.execute("INSERT INTO staged_removals (run_id, event_id) VALUES (1, 'x')")
            other.commit()
            other_writer.append("wrote")
        except sqlite3.OperationalError as error:
            other_writer.append(str(error))
        finally:
            other.close()

    try:
        await store.write(read_then_let_another_write)
    finally:
        await store.dispose()
    assert other_writer == ["database is locked"]


async def test_a_run_going_on_here_holds_its_lease_against_requests_until_it_ends(
    store: Store,
) -> None:
    """A run may go on after its lease expired (renewals can fail): another replica may then
    ask for a run, but the replica running it may not, until the run releases the lease."""
    assert await store.write(leases.claim, "p", "A", NOW, 30) is not None
    assert not await store.write(leases.request_run, "p", NOW, False)  # held
    expired = NOW + timedelta(seconds=60)
    assert not await store.write(leases.request_run, "p", expired, False, running_here="A")
    assert await store.write(leases.request_run, "p", expired, False, running_here="B")

    await store.write(leases.release_all)  # as the run does when it records its outcome
    assert await store.write(leases.request_run, "p", expired, False, running_here="A")


async def test_a_plugin_under_a_live_lease_is_due_no_sooner_than_the_lease_expires(
    store: Store,
) -> None:
    """Its stored next time moves only when the holder's run ends: another replica must not
    find it due meanwhile (it would fail to claim it and look again at once, over and over)."""
    assert await store.read(state.next_runs, ["p"]) == {"p": NOW}
    assert await store.write(leases.claim, "p", "B", NOW, 30) is not None
    assert await store.read(state.next_runs, ["p"]) == {"p": NOW + timedelta(seconds=30)}

    await store.write(leases.release_all)
    assert await store.read(state.next_runs, ["p"]) == {"p": NOW}


async def test_interrupted_runs_are_swept(store: Store) -> None:
    run_id = await _stage(store, _events(0))
    assert await store.write(state.abandon_runs, NOW) == 1
    (run,) = await store.read(state.run_rows, run_ids=[run_id])
    assert run["outcome"] == "abandoned"
    assert await _stored(store) == {}


async def test_keyset_pages_cover_everything_once(store: Store) -> None:
    await _run(
        store, _events(*range(7)), _events(7, 8, title="Same start", start=make_event(3)["start"])
    )
    seen: list[str] = []
    after = None
    while True:
        listing = await reads.list_events(store, reads.EventFilter(), limit=2, after=after)
        rows, after = listing.rows, listing.next_key
        seen.extend(row.event_id for row in rows)
        if after is None:
            break
    assert sorted(seen) == sorted(f"ev-{n}" for n in range(9))
    assert len(seen) == 9


async def test_a_listing_while_a_run_applies_sees_the_last_applied_snapshot(store: Store) -> None:
    """The reader's connections (on SQLite, another engine) see an apply whole or not at all."""
    await _run(store, _events(0, 1))
    later = NOW + timedelta(hours=1)
    run_id = await _stage(store, _events(1, 2, title="New"), now=later)

    async def listed() -> list[tuple[str, str]]:
        rows = (await reads.list_events(store, reads.EventFilter(), limit=10, after=None)).rows
        return [(row.event_id, row.title) for row in rows]

    def apply(conn: Connection) -> None:
        ingest.apply_run(conn, run_id=run_id, plugin_id="p", manifest=MANIFEST, now=later)

    # Applied on the async engine, so that the listing can run while its transaction is open.
    async with store.engine.begin() as conn:
        await conn.run_sync(apply)
        during = await listed()
    assert during == [("ev-0", "Show 0"), ("ev-1", "Show 1")]
    assert await listed() == [("ev-1", "New"), ("ev-2", "New")]


async def test_long_reads_in_progress_do_not_hold_up_short_ones(sqlite_url: str) -> None:
    """On SQLite, reads that may take long (a scan) have threads of their own: with every one
    of them busy, a listing that uses an index still answers."""
    engine = create_engine(sqlite_url)
    await migrate(engine)
    store = Store(engine)
    gate = threading.Event()

    def held_scan(conn: Connection) -> str:
        gate.wait(timeout=30)
        return "scanned"

    scans = [
        asyncio.create_task(store.read(held_scan, long=True))
        for _ in range(Store.LONG_READ_THREADS + 1)
    ]
    try:
        listing = await asyncio.wait_for(
            reads.list_events(store, reads.EventFilter(venue_id="hall"), limit=5, after=None),
            timeout=20,  # a bound on failure only: the listing does not wait for the scans
        )
        assert listing.rows == [] and not any(scan.done() for scan in scans)
    finally:
        gate.set()
        assert await asyncio.gather(*scans) == ["scanned"] * (Store.LONG_READ_THREADS + 1)
        await store.dispose()


WINDOW = {"start": NOW, "end": NOW + timedelta(days=30)}


def _threads_reading_pages(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """The threads that listings' pages are read in, from now on, in order."""
    ran_in: list[threading.Thread] = []
    page = reads._page

    def recorded(conn: Connection, *arguments: Any) -> Any:
        ran_in.append(threading.current_thread())
        return page(conn, *arguments)

    monkeypatch.setattr(reads, "_page", recorded)
    return ran_in


@pytest.mark.parametrize(
    ("filters", "limit", "longest", "on_the_loop"),
    [
        (reads.EventFilter(), 100, 60, True),
        (reads.EventFilter(venue_id="hall", **WINDOW), 500, 60, True),
        (reads.EventFilter(plugin_id="p", venue_id="hall", end=NOW), 100, None, True),
        (reads.EventFilter(venue_id="hall"), 501, 60, False),  # more than a page: a feed
        (reads.EventFilter(plugin_id="p", **WINDOW), 100, 60, False),  # no index in that order
        (reads.EventFilter(venue_id="hall", statuses=["cancelled"]), 100, 60, False),
        (reads.EventFilter(venue_id="hall", text="jazz"), 100, 60, False),
        (reads.EventFilter(venue_id="hall", **WINDOW), 100, None, False),  # from the oldest
        # Removed events may be longer than any current one: no bound, from the oldest.
        (reads.EventFilter(venue_id="hall", include_removed=True, **WINDOW), 100, 60, False),
    ],
)
async def test_listings_that_read_one_index_range_run_on_the_event_loop(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    filters: reads.EventFilter,
    limit: int,
    longest: int | None,
    on_the_loop: bool,
) -> None:
    """On SQLite a listing that reads one index range in order runs on the event loop (a hop
    to a thread cost more than the read); any other may read far more rows than it lists,
    and runs in a thread apart, so that the event loop never waits for it. `longest`: the
    longest event of the plugin, which has stored one, in seconds (None: stored by a version
    that did not record it)."""
    store = Store(create_engine(sqlite_url))
    await migrate(store.engine)
    await store.write(state.register_plugins, [("p", "http://p", NOW)], NOW)
    await _run(store, _events(0))
    await _run(store, [])  # the plugin has stored an event; none is listed (it was removed)
    await store.write(lambda conn: conn.execute(update(plugins).values(max_event_seconds=longest)))
    ran_in = _threads_reading_pages(monkeypatch)
    try:
        listing = await reads.list_events(store, filters, limit=limit, after=None)
    finally:
        await store.dispose()
    assert listing.rows == []
    assert (ran_in == [threading.current_thread()]) is on_the_loop, ran_in


async def test_a_plugin_without_events_leaves_a_window_bounded(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin that never stored an event (pending, unreachable) has no longest event, and
    bounds nothing: a window still reads from its start, on the event loop (one plugin
    without a first success among many must not make every window a scan)."""
    festival = Event.model_validate(
        make_event(0) | {"id": "festival", "end": "2030-01-05T20:00:00+00:00"}
    )
    await _run(store, [festival, *_events(1, 2, 3)])
    await store.write(
        lambda conn: conn.execute(update(plugins).values(max_event_seconds=4 * 86400 + 1))
    )
    await store.write(state.register_plugins, [("q", "http://q", NOW)], NOW)  # never runs
    window = reads.EventFilter(venue_id="hall", start=datetime(2030, 1, 4, tzinfo=UTC))
    ran_in = _threads_reading_pages(monkeypatch)
    rows = (await reads.list_events(store, window, limit=10, after=None)).rows
    assert [row.event_id for row in rows] == ["festival", "ev-3"]
    assert ran_in == [threading.current_thread()]


async def test_a_listing_reads_the_facts_of_the_plugins_on_its_page(store: Store) -> None:
    """Freshness is told per event, so a page needs the facts of its own plugins alone,
    whatever the number registered."""
    await _run(store, _events(0, 1))
    others = [(f"other-{n}", f"http://other-{n}", NOW) for n in range(20)]
    await store.write(state.register_plugins, others, NOW)
    listing = await reads.list_events(store, reads.EventFilter(), limit=10, after=None)
    assert [row.event_id for row in listing.rows] == ["ev-0", "ev-1"]
    assert list(listing.plugins) == ["p"]
    run_id, _ = await store.write(state.start_run, "other-3", "schedule", NOW)
    await store.write(ingest.stage_page, run_id, "other-3", _events(5))
    await store.write(
        ingest.apply_run, run_id=run_id, plugin_id="other-3", manifest=MANIFEST, now=NOW
    )
    both = await reads.list_events(store, reads.EventFilter(), limit=10, after=None)
    assert [(row.plugin_id, row.event_id) for row in both.rows][-1] == ("other-3", "ev-5")
    assert sorted(both.plugins) == ["other-3", "p"]
    empty = await reads.list_events(
        store, reads.EventFilter(venue_id="nowhere"), limit=10, after=None
    )
    assert empty.plugins == {}


async def test_a_write_cancelled_while_it_runs_ends_before_the_cancel_is_taken(
    sqlite_url: str,
) -> None:
    """On SQLite a write runs in a thread, which cannot be interrupted: the cancelled task
    waits for the write to end (here, commit), so what it wrote is settled when it stops."""
    store = Store(create_engine(sqlite_url))
    await migrate(store.engine)
    await store.write(state.register_plugins, [("p", "http://p", NOW)], NOW)
    began, gate = threading.Event(), threading.Event()

    def slow_write(conn: Connection) -> None:
        began.set()
        gate.wait(timeout=30)
        conn.execute(update(plugins).values(url="http://renamed"))

    try:
        task = asyncio.create_task(store.write(slow_write))
        assert await asyncio.to_thread(began.wait, 30)
        task.cancel()
        for _ in range(10):  # let the loop deliver the cancel
            await asyncio.sleep(0)
        assert not task.done()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        urls = await store.read(lambda conn: conn.execute(select(plugins.c.url)).scalars().all())
        assert urls == ["http://renamed"]
    finally:
        gate.set()
        await store.dispose()


async def test_filters(store: Store) -> None:
    await _run(store, _events(0, 1, 2) + _events(3, status="cancelled", title="Jazz night"))
    window = reads.EventFilter(
        start=datetime(2030, 1, 2, 21, tzinfo=UTC), end=datetime(2030, 1, 4, tzinfo=UTC)
    )
    rows = (await reads.list_events(store, window, limit=10, after=None)).rows
    assert [row.event_id for row in rows] == ["ev-1", "ev-2"]  # ev-1 still going on at 21:00
    cancelled = reads.EventFilter(statuses=["cancelled"])
    rows = (await reads.list_events(store, cancelled, limit=10, after=None)).rows
    assert [row.event_id for row in rows] == ["ev-3"]
    text = reads.EventFilter(text="JAZZ")
    rows = (await reads.list_events(store, text, limit=10, after=None)).rows
    assert [row.event_id for row in rows] == ["ev-3"]
    literal = reads.EventFilter(text="100%")
    assert (await reads.list_events(store, literal, limit=10, after=None)).rows == []


async def test_a_window_finds_long_events_still_going_on(store: Store) -> None:

    festival = Event.model_validate(
        make_event(0) | {"id": "festival", "end": "2030-01-05T20:00:00+00:00"}
    )
    await _run(store, [festival, *_events(1, 2, 3)])
    window = reads.EventFilter(start=datetime(2030, 1, 4, tzinfo=UTC))
    unknown = (await reads.list_events(store, window, limit=10, after=None)).rows
    # What a successful run records: the longest event.
    await store.write(
        lambda conn: conn.execute(update(plugins).values(max_event_seconds=4 * 86400 + 1))
    )
    bounded = (await reads.list_events(store, window, limit=10, after=None)).rows
    assert [row.event_id for row in unknown] == ["festival", "ev-3"]
    assert [row.event_id for row in bounded] == ["festival", "ev-3"]
    # A bound too short would lose the festival.
    await store.write(lambda conn: conn.execute(update(plugins).values(max_event_seconds=3600)))
    too_short = (await reads.list_events(store, window, limit=10, after=None)).rows
    assert [row.event_id for row in too_short] == ["ev-3"]
    # A window opening so early that the bound would fall before the year 1: no bound.
    earliest = reads.EventFilter(start=datetime(1, 1, 1, 0, 30, tzinfo=UTC))
    rows = (await reads.list_events(store, earliest, limit=10, after=None)).rows
    assert [row.event_id for row in rows] == ["festival", "ev-1", "ev-2", "ev-3"]


def _as_first_schema_stored(event: Event) -> dict[str, Any]:
    """An event's row as the first schema's version wrote it: no document, and the digest of
    the content as JSON with sorted keys."""
    row = {k: v for k, v in ingest.event_row("p", event).items() if k != "document"}
    content = {k: v for k, v in row.items() if k not in ("plugin_id", "event_id")}
    canonical = json.dumps(content, sort_keys=True, default=lambda value: value.isoformat())
    return {**row, "content_hash": hashlib.sha256(canonical.encode()).hexdigest()}


def _first_schema(table: Table) -> TableClause:
    """`table` as revision 0001 made it: a content digest, no `document`."""
    kept = (column(c.name, c.type) for c in table.c if c.name != "document")
    return sa_table(table.name, *kept, column("content_hash", String(64)))


async def test_upgrading_renders_documents_and_reports_nothing_changed(database_url: str) -> None:
    """Rows the first schema wrote get the document staging gives them now, and lose their
    digest, so the next run of the same events changes nothing (the feeds' DTSTAMP stays
    put)."""
    store = Store(create_engine(database_url))
    engine = store.engine
    try:
        await migrate(engine, "0001")
        batch = [
            *_events(0, timezone="Asia/Tokyo", categories=["jazz", "late"]),
            *_events(1, title="Café ☕", description=None, end=None),
            *_events(2, updated_at="2030-01-01T10:00:00+01:00", performers=["Ana", "Bo"]),
            *_events(*range(10, 1510)),  # more than one batch of the migration's
        ]
        seen = {"first_seen_at": NOW, "last_seen_at": NOW, "last_run_id": 1, "changed_at": NOW}
        rows = [_as_first_schema_stored(event) for event in batch]
        async with engine.begin() as conn:
            await conn.execute(insert(_first_schema(events)), [{**row, **seen} for row in rows])
            await conn.execute(
                insert(_first_schema(staged_events)), [{"run_id": 1, **row} for row in rows]
            )
        await migrate(engine)
        async with engine.connect() as conn:
            migrated = (await conn.execute(select(events))).mappings().all()
            staged = (await conn.execute(select(staged_events))).mappings().all()
        await store.write(ingest.delete_staging, [1])
        await store.write(state.register_plugins, [("p", "http://p", NOW)], NOW)
        counts = await _run(store, batch, now=NOW + timedelta(hours=6))
        changed = set(
            await store.read(lambda conn: conn.execute(select(events.c.changed_at)).scalars())
        )
    finally:
        await store.dispose()
    now_rendered = {event.id: ingest.event_row("p", event) for event in batch}
    assert len(migrated) == len(staged) == len(batch)
    for found in [*migrated, *staged]:
        assert found["document"] == now_rendered[found["event_id"]]["document"]
    assert counts.updated == 0
    assert changed == {NOW}
    documents = {row["event_id"]: json.loads(row["document"]) for row in migrated}
    assert documents["ev-0"]["start"] == "2030-01-02T05:00:00+09:00"
    assert documents["ev-0"]["categories"] == ["jazz", "late"]
    assert documents["ev-1"]["title"] == "Café ☕"
    assert documents["ev-2"]["updated_at"] == "2030-01-01T09:00:00Z"


async def test_downgrading_keeps_every_event(database_url: str) -> None:
    """Back to the first schema: the events stay, with a digest column the older version
    fills again on its first run."""
    store = Store(create_engine(database_url))
    engine = store.engine
    try:
        await migrate(engine)
        await store.write(state.register_plugins, [("p", "http://p", NOW)], NOW)
        await _run(store, _events(0, 1, 2))

        def downgrade(sync: Connection) -> list[str]:
            config = alembic_config()
            config.attributes["connection"] = sync
            command.downgrade(config, "0001")
            return [c["name"] for c in inspect(sync).get_columns("events")]

        async with engine.begin() as conn:
            names = await conn.run_sync(downgrade)
            ids = (await conn.execute(text("SELECT event_id FROM events"))).scalars().all()
    finally:
        await store.dispose()
    assert "content_hash" in names and "document" not in names
    assert sorted(ids) == ["ev-0", "ev-1", "ev-2"]

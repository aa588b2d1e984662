"""The database connection: engine creation, SQLite tuning, and schema migrations."""

from __future__ import annotations

import asyncio
import contextvars
import fcntl
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

import pydantic_core
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from base_service.errors import ConfigError
from base_service.tasks import wait_out

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def _to_json(value: Any) -> str:
    return pydantic_core.to_json(value).decode()


# JSON columns (categories, performers, manifests) are encoded and decoded by pydantic's core:
# several times faster than the json module for the small lists every event row carries.
_JSON_CODEC: dict[str, Any] = {
    "json_serializer": _to_json,
    "json_deserializer": pydantic_core.from_json,
}


def create_engine(database_url: str) -> AsyncEngine:
    """Create the async engine; for SQLite, create the file's folder and turn on WAL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, **_JSON_CODEC
        )
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, **_JSON_CODEC)
    event.listen(engine.sync_engine, "connect", _tune_sqlite)
    return engine


class Store:
    """Runs the store's work, each unit written as a plain function of a `Connection`, whole
    and in one hop: `read` for queries, `write` for a transaction.

    Through aiosqlite every step of a statement (checkout, execute, fetch, commit) is a round
    trip to the connection's own thread, about 70 µs each: a listing spent more time in those
    hops than in SQLite, and a run's 17 statements spent more than its SQL. So on an SQLite
    file the work runs on a synchronous engine over the same file. A short read (one index
    range read in order: a page of events, a plugin's state; about a millisecond) runs right
    on the event loop: in a thread it cost more than the read itself, as the thread and the
    event loop took turns at the GIL for every row SQLite stepped (measured under 50 clients:
    1.65 against 1.12 ms of CPU a listing, 589 against 892 listings/s). A read that may take
    long (`long`: it may read far more rows than it returns; a text search scans every event,
    seconds over a million) runs in a small pool of threads of its own (a "lane"), so that
    the event loop never waits for it; writes have a lane of
    one thread, since SQLite takes one writer at a time anyway, and it runs them in the order
    they were asked for (WAL lets reads go on meanwhile). On other databases, whose drivers
    are natively async, the work runs through the async engine's `run_sync`.

    Once `read` or `write` returns or raises, the work is over, committed or rolled back:
    a task cancelled while its work runs in a thread waits for the work to end (a thread
    cannot be interrupted), then takes the cancel; through `run_sync` the cancel interrupts
    the work and its transaction rolls back.
    """

    LONG_READ_THREADS = 2  # long reads at once; more wait their turn

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        url = engine.url
        self._sync: Engine | None = None
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            # The driver's own transaction handling off: it would begin a transaction only
            # at a write's first INSERT, UPDATE or DELETE, leaving what the write read before
            # outside it. `_write` begins its own, which takes the write lock at once.
            self._sync = create_sync_engine(
                url.set(drivername="sqlite+pysqlite"),
                connect_args={"timeout": 30, "check_same_thread": False, "isolation_level": None},
                pool_size=self.LONG_READ_THREADS + 2,  # and the writer, and the event loop
                **_JSON_CODEC,
            )
            event.listen(self._sync, "connect", _tune_sqlite)
            threads = {"long-reads": self.LONG_READ_THREADS, "writer": 1}
            self._lanes = {
                name: ThreadPoolExecutor(count, thread_name_prefix=name)
                for name, count in threads.items()
            }

    @property
    def dialect(self) -> Dialect:
        """The dialect the store's work runs on (what its drivers take as values)."""
        return (self._sync or self.engine.sync_engine).dialect

    async def read(
        self, work: Callable[..., T], *args: Any, long: bool = False, **kwargs: Any
    ) -> T:
        """`work(connection, *args, **kwargs)` on a connection of its own, outside a
        transaction of ours; `long` when it may take long (it may read far more rows than it
        returns, or return thousands): never on the event loop. A short read blocks the loop
        while it runs, so it must be bounded: an index range read in order with a limit, a
        row by its key, or a small table (the plugins, the venues)."""
        if kwargs:
            work = functools.partial(work, **kwargs)
        if not self._lanes:
            async with self.engine.connect() as conn:
                return await conn.run_sync(work, *args)
        if long:
            return await self._in_lane("long-reads", self._read, work, args)
        return self._read(work, args)

    async def write(
        self, work: Callable[..., T], *args: Any, commit: bool = True, **kwargs: Any
    ) -> T:
        """`work(connection, *args, **kwargs)` in one transaction, committed when it returns
        (rolled back when it raises, or when `commit` is false: a trial that changes
        nothing)."""
        if kwargs:
            work = functools.partial(work, **kwargs)
        if not self._lanes:
            async with self.engine.connect() as conn, conn.begin() as transaction:
                value = await conn.run_sync(work, *args)
                if not commit:
                    await transaction.rollback()
                return value
        return await self._in_lane("writer", self._write, work, args, commit)

    async def _in_lane(self, lane: str, call: Callable[..., T], *args: Any) -> T:
        context = contextvars.copy_context()  # the request id, for any log line in the work
        queued = self._lanes[lane].submit(context.run, call, *args)
        work = asyncio.wrap_future(queued)
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            if not queued.cancel():  # it has begun: a thread cannot be stopped, so wait it out
                await wait_out(work)
            raise

    def _read(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        assert self._sync is not None
        with self._sync.connect() as conn:
            return work(conn, *args)

    def _write(self, work: Callable[..., T], args: tuple[Any, ...], commit: bool) -> T:
        """A write holds SQLite's write lock from its first statement (`BEGIN IMMEDIATE`), so
        what it reads, no other connection changes before it commits: a write that decides
        by what it reads (see `ingest.delete_staging`) decides on what it then changes."""
        assert self._sync is not None
        with self._sync.connect() as conn, conn.begin() as transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            value = work(conn, *args)
            if not commit:
                transaction.rollback()
            return value

    async def dispose(self) -> None:
        """Let the work in progress and queued finish, stop the threads, and close every
        connection."""
        for lane in self._lanes.values():
            await asyncio.to_thread(lane.shutdown, wait=True)
        if self._sync is not None:
            self._sync.dispose()
        await self.engine.dispose()


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a run applies; NORMAL sync is durable in WAL mode.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Some builds (Debian's among them) overwrite every deleted row and freed page with zeros,
    # which made deleting a run's staged rows cost as much again as writing them (200,000
    # staged events: 0.80 s against 0.42 s). The store holds public listings, nothing to
    # shred; FAST still zeroes what is deleted where that costs no extra I/O.
    cursor.execute("PRAGMA secure_delete=FAST")
    cursor.close()


def alembic_config() -> Config:
    """Return an Alembic config pointing at the bundled migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


# Any constant shared by all replicas: the key of the advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x4D61727175656501


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to the newest migration (or to `revision`); replicas starting
    together take turns."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held to the end of this transaction; the others wait, then find nothing to do.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(_upgrade, revision)


def lock_sqlite_file(database_url: str) -> IO[bytes] | None:
    """Take an exclusive lock beside an SQLite file, so a second base process on it stops.

    Runs of one plugin must never overlap, and on SQLite only one process can guarantee that.
    Returns the open lock file (keep it open to keep the lock), or None for other databases.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).with_name(Path(url.database).name + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("wb")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(
            f"another base service is using the SQLite database {url.database}. SQLite supports "
            "one replica; to run several, point DATABASE_URL at PostgreSQL "
            "(postgresql+asyncpg://...)"
        ) from None
    return handle


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def unreachable(database_url: str, timeout: float = 15.0) -> str | None:
    """Why the database cannot be used, in one line, or None: asked once before start-up so
    that a wrong DATABASE_URL ends start-up with a sentence rather than a traceback."""
    engine = create_engine(database_url)
    try:
        async with asyncio.timeout(timeout):
            await ping(engine)
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except (OSError, SQLAlchemyError) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"
    finally:
        await engine.dispose()
    return None


async def ping(engine: AsyncEngine) -> None:
    """Run a trivial query; raise if the database cannot answer."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))

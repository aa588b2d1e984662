"""`python -m base_service`: validate the settings, then serve the API and run the scheduler."""

from __future__ import annotations

import asyncio
import gc
import re
import sys

import uvicorn
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.engine import make_url

from base_service.api.app import create_app
from base_service.config import Settings
from base_service.logs import configure_logging
from base_service.store.database import unreachable


def _explain(exc: ValidationError) -> str:
    lines = ["marquee: invalid configuration"]
    for error in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"]).upper() or "(settings)"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}: {message}")
    return "\n".join(lines)


def _explain_unparseable(exc: SettingsError) -> str:
    field = re.search(r'field "(\w+)"', str(exc))
    name = field.group(1).upper() if field else "(settings)"
    return f"marquee: invalid configuration\n  {name}: cannot be parsed: {exc.__cause__ or exc}"


# Allocations (less deallocations) between young-generation collections; CPython's default is 700.
_YOUNG_THRESHOLD = 10_000


def tune_garbage_collector() -> None:
    """Spare a run's pages the cyclic collector's work, most of which finds nothing.

    A page of 1,000 events allocates far more than 700 objects before it is freed, so with
    CPython's defaults the collector ran about ten times a page, and each full collection
    walked every object made at start-up (modules, models, schemas, the app). Those are
    frozen once the app is built, and young collections wait for 10,000 net allocations:
    parsing and building rows went from about 26 to 19 µs an event (bench/README.md, P2).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def main() -> int:
    """Run the base service until SIGTERM or SIGINT."""
    try:
        settings = Settings()
    except ValidationError as exc:
        print(_explain(exc), file=sys.stderr)  # noqa: T201 - the one message a user sees
        return 2
    except SettingsError as exc:  # a value that is not even parseable, e.g. JSON
        print(_explain_unparseable(exc), file=sys.stderr)  # noqa: T201
        return 2
    problem = asyncio.run(unreachable(settings.database_url))
    if problem is not None:
        url = make_url(settings.database_url).render_as_string(hide_password=True)
        print(f"marquee: cannot use the database {url}\n  {problem}", file=sys.stderr)  # noqa: T201
        return 3
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    tune_garbage_collector()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        # asyncio's own loop, not uvloop: short reads run on the loop (see store/database.py),
        # and under 50 clients uvloop then let 1 % of listings wait up to 1.5 s (p99 802 ms
        # against 58 ms, at the same 880 to 890 listings/s).
        loop="asyncio",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 1,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

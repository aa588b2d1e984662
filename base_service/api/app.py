"""The FastAPI application: `create_app(settings)` is the one entry point."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from base_service import __version__
from base_service.api.deps import Services
from base_service.api.middleware import HeadAsGet, RequestContext
from base_service.api.openapi_doc import install_openapi
from base_service.api.problems import install_problem_handlers
from base_service.api.routes import events, health, ics, metrics_route, plugins, status_page, venues
from base_service.client import HttpClients
from base_service.config import Settings
from base_service.metrics import Metrics
from base_service.poller import Poller
from base_service.scheduler import Scheduler
from base_service.store.database import Store, create_engine, lock_sqlite_file, migrate

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """Build the app; its lifespan opens the database, the HTTP client and the scheduler."""

    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sqlite_lock = lock_sqlite_file(settings.database_url)
        engine = create_engine(settings.database_url)
        await migrate(engine)
        store = Store(engine)
        poller = Poller(store, HttpClients(settings), settings, clock, metrics)
        scheduler = Scheduler(
            settings.plugins(), poller, store, settings, clock, alone=sqlite_lock is not None
        )
        await scheduler.start()
        app.state.services = Services(
            settings=settings,
            store=store,
            scheduler=scheduler,
            poller=poller,
            metrics=metrics,
        )
        logger.info(
            "base service started",
            extra={"action": "started", "plugins": len(settings.plugin_urls)},
        )
        if not settings.plugin_urls:
            logger.warning("no plugins registered: set PLUGIN_URLS", extra={"action": "no_plugins"})
        try:
            yield
        finally:
            await scheduler.stop(settings.shutdown_grace_seconds)
            await store.dispose()
            if sqlite_lock is not None:
                sqlite_lock.close()
            logger.info("base service stopped", extra={"action": "stopped"})

    app = FastAPI(
        title="Marquee",
        version=__version__,
        summary="Upcoming events of many venues, gathered from plugin services.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestContext, metrics=metrics)
    app.add_middleware(HeadAsGet)
    install_problem_handlers(app)
    for module in (events, ics, venues, plugins, health, metrics_route, status_page):
        app.include_router(module.router)
    install_openapi(app)
    return app

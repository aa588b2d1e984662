"""What request handlers reach: the long-lived services the lifespan built, and admin auth.

Dependencies are `async def` although none awaits: FastAPI runs a plain `def` dependency in
its thread pool, a hop to another thread and back on every request that uses it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from base_service.api.problems import ProblemError
from base_service.config import Settings
from base_service.metrics import Metrics
from base_service.poller import Poller
from base_service.scheduler import Scheduler
from base_service.store.database import Store


@dataclass(frozen=True)
class Services:
    """The resources one running app holds; built in the lifespan."""

    settings: Settings
    store: Store  # the database: every read and write, in one hop each
    scheduler: Scheduler
    poller: Poller
    metrics: Metrics


async def get_services(request: Request) -> Services:
    """The app's services."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
_bearer = HTTPBearer(auto_error=False, description="The operator's ADMIN_TOKEN.")


async def require_admin(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with `Authorization: Bearer $ADMIN_TOKEN`."""
    expected = services.settings.admin_token
    if expected is None:
        raise ProblemError(403, "admin actions are disabled: ADMIN_TOKEN is not set")
    given = credentials.credentials if credentials else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise ProblemError(
            401, "a valid admin bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


AdminDep = Annotated[None, Depends(require_admin)]

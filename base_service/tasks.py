"""Waiting for asyncio work that must end whole, whatever cancels the waiter meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_out(work: asyncio.Future[Any]) -> bool:
    """Wait until `work` is over, absorbing the cancels that reach this task meanwhile; say
    whether one did (the caller passes it on). The outcome of `work` is retrieved and
    dropped: the caller has an error of its own to report, or is being cancelled."""
    cancelled = False
    while not work.done():
        try:
            await asyncio.wait([work])
        except asyncio.CancelledError:
            cancelled = True
    if not work.cancelled():
        work.exception()  # retrieved, so that asyncio does not log it as never retrieved
    return cancelled

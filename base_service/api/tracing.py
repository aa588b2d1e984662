"""Which trace an API request belongs to, so the plugin calls it causes continue that trace."""

from __future__ import annotations

import re

from fastapi import Request

from base_service.logs import request_id_var

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def trace_id_of(request: Request) -> str | None:
    """The caller's W3C trace id (from `traceparent`), else this request's id if it is one."""
    match = _TRACEPARENT.match(request.headers.get("traceparent", ""))
    if match and match.group(1) != "0" * 32:
        return match.group(1)
    request_id = request_id_var.get() or ""
    return request_id if _TRACE_ID.match(request_id) else None

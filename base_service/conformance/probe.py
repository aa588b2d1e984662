"""HTTP to the plugin under test: one GET at a time, every exchange kept whole for the report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Literal

import httpx

from base_service import __version__

USER_AGENT = f"marquee-conformance/{__version__}"
PROBLEM_JSON = "application/problem+json"


class _Configured(Enum):
    TOKEN = "the configured token"


# Which token a request carries: the configured one (if any), None for none, or this string.
CONFIGURED: Final = _Configured.TOKEN


class ProbeError(Exception):
    """The plugin gave no HTTP answer (refused, reset, timed out); `request` says to what."""

    def __init__(self, message: str, request: str) -> None:
        super().__init__(message)
        self.request = request


@dataclass(frozen=True)
class Exchange:
    """One request and the plugin's answer to it."""

    method: str
    url: str
    status: int
    headers: httpx.Headers
    body: bytes
    note: str = ""  # what was special about the request (a header sent, a token left out)

    @property
    def request(self) -> str:
        """The request as the report shows it: method, full URL with query, and the note."""
        line = f"{self.method} {self.url}"
        return f"{line} ({self.note})" if self.note else line

    @property
    def media_type(self) -> str:
        """The Content-Type without its parameters, lower case."""
        value: str = self.headers.get("Content-Type", "")
        return value.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON."""
        return json.loads(self.body)

    def excerpt(self, size: int = 200) -> str:
        """The start of the body, for messages."""
        text = self.body[:size].decode("utf-8", errors="replace")
        return text + ("…" if len(self.body) > size else "")


class Probe:
    """Calls one plugin with the configured bearer token, a timeout and no retries."""

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.requests = 0
        self._http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def get(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        token: str | Literal[_Configured.TOKEN] | None = CONFIGURED,
        headers: Mapping[str, str] | None = None,
        note: str = "",
    ) -> Exchange:
        """GET `path` with `params`; `token` None sends no Authorization, a string sends it."""
        url = httpx.URL(self.base_url + path, params=dict(params or {}))
        sent = dict(headers or {})
        bearer = self.token if token is CONFIGURED else token
        if bearer is not None:
            sent["Authorization"] = f"Bearer {bearer}"
        notes = [note] if note else []
        notes += [f"{name}: {value}" for name, value in sent.items() if name != "Authorization"]
        described = "; ".join(notes)
        self.requests += 1
        try:
            response = self._http.get(url, headers=sent)
        except httpx.TimeoutException as exc:
            raise ProbeError(f"no answer in time ({type(exc).__name__})", f"GET {url}") from None
        except httpx.TransportError as exc:
            raise ProbeError(f"no answer: {type(exc).__name__}: {exc}", f"GET {url}") from None
        return Exchange(
            "GET", str(url), response.status_code, response.headers, response.content, described
        )

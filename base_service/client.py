"""HTTP calls to plugins: timeouts, size caps, redirects, and retries. The only module that
touches httpx's exceptions.

Retries (tenacity) happen here and only for transient failures: connection errors, timeouts,
408, 429, 502, 503, 504, and the problem types the contract marks transient. A `Retry-After`
header sets the wait; one longer than RETRY_AFTER_CAP_SECONDS is not waited out here but
raised, so the scheduler defers the plugin's next run instead of holding a run slot.
Otherwise waits grow exponentially with jitter.
"""

from __future__ import annotations

import email.utils
import json
import logging
import secrets
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from base_service import __version__
from base_service.config import PluginConfig, Settings
from base_service.errors import (
    PluginError,
    PluginHTTPError,
    PluginTimeout,
    PluginUnreachable,
    RedirectRefused,
    ResponseTooLarge,
)

logger = logging.getLogger(__name__)
USER_AGENT = f"marquee-base/{__version__}"
_MAX_PROBLEM_BYTES = 4096


class HttpClients:
    """Makes the httpx client of each run: a client per run, all sharing one TLS context.

    Measured (bench/p1_clients.py, 1,000 plugins): one shared pool spends CPU scanning its
    connections on every request, more as it holds more of them, while a client per run holds
    one plugin's connection only; httpx builds a TLS context (loading the CA bundle) per
    client unless given one, so the context is made once here. Runs are hours apart, so a
    connection kept alive between them would not be reused anyway.

    Proxies come from the environment, as httpx reads them (HTTP_PROXY, HTTPS_PROXY,
    ALL_PROXY, NO_PROXY, through the standard library's `getproxies`). Whether it names any
    (any `*_PROXY` variable) is asked once, here: a client that trusts the environment
    searches it anew when made, which cost 100 µs a run when there was nothing to find.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tls = httpx.create_ssl_context()  # httpx's own trust: certifi, or SSL_CERT_FILE/DIR
        self._proxied = bool(urllib.request.getproxies())  # what httpx reads, in the stdlib's words

    def new(self) -> httpx.AsyncClient:
        """A client for one run; close it when the run ends (`async with`)."""
        settings = self._settings
        return httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=settings.connect_timeout_seconds,
                read=settings.read_timeout_seconds,
                write=settings.read_timeout_seconds,
                pool=settings.connect_timeout_seconds,
            ),
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=1),
            verify=self._tls,
            # Redirects are followed in PluginClient, which checks each hop and never reads a
            # redirect's body (httpx would read it whole, past any size cap).
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            trust_env=self._proxied,
        )


_MAX_REDIRECTS = 3


def _redirect_target(response: httpx.Response) -> httpx.URL:
    """Where a redirect may be followed: the same host and port, never https to http."""
    source = response.request.url
    target = source.join(response.headers["Location"])
    if target.host != source.host or target.port != source.port:
        raise RedirectRefused(f"{source} redirected to another host: {target}")
    if source.scheme == "https" and target.scheme != "https":
        raise RedirectRefused(f"{source} redirected from https to {target.scheme}: {target}")
    return target


class _RetryAfterOrBackoff:
    """Tenacity wait: the plugin's Retry-After (capped), else exponential backoff with jitter."""

    def __init__(self, cap: float) -> None:
        self._cap = cap
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=max(cap, 0.5), jitter=0.5)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self._cap)
        return min(self._backoff(state), self._cap)


class _RetryWorthIt:
    """Tenacity retry test: transient failures, unless they ask to wait longer than the cap."""

    def __init__(self, cap: float) -> None:
        self._cap = cap

    def __call__(self, error: BaseException) -> bool:
        if not isinstance(error, PluginError) or not error.transient:
            return False
        return error.retry_after is None or error.retry_after <= self._cap


@dataclass(frozen=True)
class Reply:
    """A plugin's successful answer: its body (empty for 304) and the headers that matter."""

    body: bytes
    etag: str | None = None
    not_modified: bool = False


class PluginClient:
    """Calls one plugin's endpoints and returns raw bodies; validation is the caller's job."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        plugin: PluginConfig,
        settings: Settings,
        trace_id: str | None = None,
    ) -> None:
        """`trace_id`: the W3C trace every call of this run belongs to (new if not given)."""
        self.trace_id = trace_id or secrets.token_hex(16)
        self._http = http
        self._plugin = plugin
        self._settings = settings
        self._timeout = httpx.Timeout(
            connect=settings.connect_timeout_seconds,
            read=plugin.read_timeout,
            write=plugin.read_timeout,
            pool=settings.connect_timeout_seconds,
        )
        self.retries = 0

    async def get(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        if_none_match: str | None = None,
    ) -> Reply:
        """GET a path of the plugin, retrying transient failures."""
        cap = self._settings.retry_after_cap_seconds
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.retry_attempts),
            wait=_RetryAfterOrBackoff(cap),
            retry=retry_if_exception(_RetryWorthIt(cap)),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._get_once(path, params, if_none_match)
        except PluginError as exc:
            self._redact(exc)
            if exc.transient and exc.retry_after is not None and exc.retry_after > cap:
                # Asked to come back later than we wait in a run: the plugin is rate limiting
                # us, whatever the status; the scheduler defers its next run.
                exc.kind = "rate_limited"
            raise
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _redact(self, error: PluginError) -> None:
        """Strip the plugin's token from an error's text: a plugin (or a proxy) may echo it."""
        if self._plugin.token is None:
            return
        secret = self._plugin.token.get_secret_value()
        if secret and secret in str(error):
            error.args = (str(error).replace(secret, "[redacted]"),)
            if isinstance(error, PluginHTTPError):
                error.problem = None

    def _log_retry(self, state: RetryCallState) -> None:
        self.retries += 1
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, PluginError):
            self._redact(error)
        wait = state.next_action.sleep if state.next_action else 0.0
        logger.warning(
            "retrying plugin call",
            extra={
                "action": "plugin_call_retry",
                "plugin_id": self._plugin.plugin_id,
                "attempt": state.attempt_number,
                "wait_seconds": round(wait, 3),
                "error": str(error),
            },
        )

    def _headers(self, if_none_match: str | None) -> dict[str, str]:
        span_id = secrets.token_hex(8)
        headers = {
            "X-Request-ID": self.trace_id,
            "traceparent": f"00-{self.trace_id}-{span_id}-01",
        }
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        if self._plugin.token is not None:
            headers["Authorization"] = f"Bearer {self._plugin.token.get_secret_value()}"
        return headers

    async def _get_once(
        self, path: str, params: Mapping[str, str | int] | None, if_none_match: str | None
    ) -> Reply:
        url = httpx.URL(f"{self._plugin.url}{path}", params=params)
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                async with self._http.stream(
                    "GET", url, headers=self._headers(if_none_match), timeout=self._timeout
                ) as response:
                    if response.has_redirect_location:
                        url = _redirect_target(response)
                        continue  # leaving the block closes the response unread
                    if response.status_code == 304 and if_none_match:
                        return Reply(b"", etag=if_none_match, not_modified=True)
                    if response.status_code >= 300:
                        body = await _read_capped(response, _MAX_PROBLEM_BYTES, truncate=True)
                        raise _status_error(response, body)
                    body = await _read_capped(response, self._settings.max_response_bytes)
                    return Reply(body, etag=_etag(response))
        except httpx.TimeoutException as exc:
            raise PluginTimeout(f"GET {path}: {type(exc).__name__} after waiting") from None
        except httpx.TransportError as exc:
            raise PluginUnreachable(f"GET {path}: {type(exc).__name__}: {exc}") from None
        raise RedirectRefused(f"GET {path}: more than {_MAX_REDIRECTS} redirects")


def _etag(response: httpx.Response) -> str | None:
    value = response.headers.get("ETag")
    return value if value and len(value) <= 200 else None


async def _read_capped(response: httpx.Response, cap: int, *, truncate: bool = False) -> bytes:
    """Read a body up to `cap` bytes; past it, stop reading and raise (or truncate)."""
    declared = response.headers.get("Content-Length")
    if not truncate and declared and declared.isdigit() and int(declared) > cap:
        raise ResponseTooLarge(
            f"{response.request.url.path}: Content-Length {declared} exceeds the cap of {cap}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            if truncate:
                break
            raise ResponseTooLarge(
                f"{response.request.url.path}: body exceeds the cap of {cap} bytes"
            )
    return b"".join(chunks)[:cap]


def _status_error(response: httpx.Response, body: bytes) -> PluginHTTPError:
    problem = _problem(response, body)
    summary = ""
    if problem:
        summary = ": " + "; ".join(
            str(problem[key]) for key in ("title", "detail") if problem.get(key)
        )
    status = response.status_code
    if 300 <= status < 400:
        summary = f": redirect without a usable Location{summary}"
    return PluginHTTPError(
        f"GET {response.request.url.path} answered {status}{summary}"[:1000],
        status=status,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        problem=problem,
    )


def _problem(response: httpx.Response, body: bytes) -> dict[str, Any] | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)

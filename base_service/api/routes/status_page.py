"""The HTML status page at `/`: what is broken, in one look.

`GET /` gathers a view model (the dataclasses below) from the plugins' states and the store, and
`templates/status.html` renders it. `POST /ui/plugins/{plugin_id}/run` is the page's run-now
form: the admin token travels in the form body, never in a URL, and is compared in constant
time. Neither is part of the OpenAPI document.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.engine import RowMapping

from base_service import __version__
from base_service.api.deps import Services, ServicesDep
from base_service.api.problems import ProblemError
from base_service.api.routes.plugins import plugin_views
from base_service.api.schemas import PluginOut, PluginState
from base_service.errors import RunInProgress, UnknownPlugin
from base_service.store import reads, status
from base_service.store.database import ping
from base_service.timezones import zone

router = APIRouter(include_in_schema=False)
logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)

REFRESH_SECONDS = 30
EVENTS_PER_VENUE = 5
MAX_VENUES = 50
MAX_ERROR_CHARS = 500
MAX_FORM_BYTES = 4096

# Worst first: the page sorts by this, and the summary line counts in this order.
_SEVERITY = {
    PluginState.failing: 0,
    PluginState.unreachable: 0,
    PluginState.incompatible: 1,
    PluginState.rate_limited: 2,
    PluginState.pending: 3,
    PluginState.ok: 4,
}
# The badge colour of each state (the CSS classes `tone-*`); the badge always says the state.
_TONE = {
    PluginState.ok: "ok",
    PluginState.failing: "bad",
    PluginState.unreachable: "bad",
    PluginState.rate_limited: "warn",
    PluginState.incompatible: "muted",
    PluginState.pending: "info",
}
_OUTCOME_TONE = {"success": "ok", "failed": "bad", "abandoned": "warn", "running": "info"}
_EVENT_STATUS_TONE = {"cancelled": "bad", "postponed": "warn", "rescheduled": "info"}

# What the run-now form's redirect may ask the page to say; nothing else from the URL is shown.
_ERRORS = {
    "bad_token": "Wrong admin token: nothing was run.",
    "running": "A run of {plugin} is already in progress.",
    "unknown": "No plugin by that name is registered.",
}


@dataclass(frozen=True)
class Moment:
    """A time as the page shows it: relative to now, with the absolute UTC time beside."""

    relative: str
    utc: str
    iso: str


@dataclass(frozen=True)
class Count:
    """One of a run's counts."""

    label: str
    value: int
    notable: bool = False


@dataclass(frozen=True)
class LastRun:
    """A plugin's most recent run."""

    run_id: int
    trigger: str
    outcome: str
    tone: str
    started: Moment
    duration: str
    counts: list[Count]
    api_url: str


@dataclass(frozen=True)
class PluginRow:
    """One plugin's line in the table."""

    plugin_id: str
    name: str | None
    url: str
    state: str
    state_label: str
    tone: str
    running: bool
    stale: bool
    last_run: LastRun | None
    last_success: Moment | None
    error_kind: str | None
    error: str | None
    next_run: Moment | None
    next_run_note: str | None
    consecutive_failures: int
    api_url: str


@dataclass(frozen=True)
class SummaryItem:
    """`3 failing`, coloured like the state's badge."""

    count: int
    label: str
    tone: str


@dataclass(frozen=True)
class EventLine:
    """One upcoming event of a venue, its start in the venue's time zone."""

    title: str
    when: str
    when_iso: str
    status: str
    tone: str | None
    cancelled: bool
    url: str | None


@dataclass(frozen=True)
class VenueCard:
    """A venue, when its plugin last succeeded (stale: failing for too long), its next events."""

    plugin_id: str
    venue_id: str
    name: str
    timezone: str
    url: str | None
    freshness: Moment | None
    stale: bool
    events: list[EventLine]
    more: int
    api_url: str
    events_url: str


@dataclass(frozen=True)
class Flash:
    """The outcome of a run-now form, shown once above the table."""

    tone: str
    message: str


@dataclass(frozen=True)
class Link:
    """A link in the page header."""

    label: str
    href: str


@dataclass(frozen=True)
class StatusPage:
    """Everything the template shows."""

    version: str
    generated: Moment
    root: str
    refresh_seconds: int
    refresh: str
    database_ok: bool
    database_detail: str | None
    headline: str
    headline_tone: str
    summary: list[SummaryItem]
    running: int
    plugins: list[PluginRow]
    venue_total: int
    venues: list[VenueCard]
    venues_more: int
    admin_enabled: bool
    flash: Flash | None
    links: list[Link]


# --- formatting -----------------------------------------------------------------------------


def _span(seconds: float) -> str:
    """A length of time, coarsely: `42 s`, `3 min`, `2 h 5 min`, `3 d`."""
    total = round(abs(seconds))
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 10 and minutes:
        return f"{hours} h {minutes} min"
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} d"


def moment(value: datetime, now: datetime) -> Moment:
    """`value` relative to `now` ("3 min ago", "in 2 h"), with its absolute UTC time."""
    delta = (value - now).total_seconds()
    if abs(delta) < 5:
        relative = "just now"
    elif delta < 0:
        relative = f"{_span(delta)} ago"
    else:
        relative = f"in {_span(delta)}"
    utc = value.astimezone(UTC)
    return Moment(
        relative=relative,
        utc=f"{utc:%Y-%m-%d %H:%M:%S} UTC",
        iso=utc.isoformat().replace("+00:00", "Z"),
    )


def duration(started: datetime, finished: datetime | None, now: datetime) -> str:
    """How long a run took, or has been going on."""
    seconds = max(((finished or now) - started).total_seconds(), 0.0)
    if seconds < 10:
        text = f"{seconds:.1f} s"
    elif 60 <= seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        text = f"{minutes} min {rest} s" if rest else f"{minutes} min"
    else:
        text = _span(seconds)
    return text if finished else f"{text} so far"


def _safe_url(url: str | None) -> str | None:
    """A URL from a plugin, kept only if it is http(s): never a `javascript:` link."""
    if not url:
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _zone(name: str | None) -> ZoneInfo:
    return zone(name) or ZoneInfo("UTC")


def _truncate(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


# --- the view model -------------------------------------------------------------------------


def _last_run(plugin: PluginOut, root: str, now: datetime) -> LastRun | None:
    run = plugin.last_run
    if run is None:
        return None
    c = run.counts
    return LastRun(
        run_id=run.run_id,
        trigger=run.trigger,
        outcome=run.outcome,
        tone=_OUTCOME_TONE.get(run.outcome, "muted"),
        started=moment(run.started_at, now),
        duration=duration(run.started_at, run.finished_at, now),
        counts=[
            Count("fetched", c.fetched),
            Count("inserted", c.inserted),
            Count("updated", c.updated),
            Count("removed", c.removed),
            Count("quarantined", c.quarantined, notable=c.quarantined > 0),
        ],
        api_url=f"{root}/v1/plugins/{quote(plugin.plugin_id, safe='')}/runs/{run.run_id}",
    )


def _plugin_row(plugin: PluginOut, root: str, now: datetime) -> PluginRow:
    state = PluginState(plugin.state)
    next_run = moment(plugin.next_run_at, now) if plugin.next_run_at else None
    note = None
    if plugin.running:
        note = "running now"
    elif plugin.next_run_at is not None and plugin.next_run_at <= now:
        note = "due now"
    elif state is PluginState.rate_limited:
        note = "deferred by the plugin"
    last_run = plugin.last_run
    healthy = state in (PluginState.ok, PluginState.pending)
    return PluginRow(
        plugin_id=plugin.plugin_id,
        name=plugin.manifest.name if plugin.manifest else None,
        url=plugin.url,
        state=state.value,
        state_label=state.value.replace("_", " "),
        tone=_TONE[state],
        running=plugin.running,
        stale=plugin.stale,
        last_run=_last_run(plugin, root, now),
        last_success=moment(plugin.last_success_at, now) if plugin.last_success_at else None,
        error_kind=None if healthy else (last_run.error_kind if last_run else None),
        error=None if healthy else _truncate(plugin.last_error, MAX_ERROR_CHARS),
        next_run=next_run,
        next_run_note=note,
        consecutive_failures=plugin.consecutive_failures,
        api_url=f"{root}/v1/plugins/{quote(plugin.plugin_id, safe='')}",
    )


def _summary(plugins: list[PluginOut]) -> list[SummaryItem]:
    items = []
    for state in sorted(PluginState, key=lambda s: (_SEVERITY[s], s.value)):
        count = sum(1 for p in plugins if p.state == state)
        if count:
            items.append(SummaryItem(count, state.value.replace("_", " "), _TONE[state]))
    return items


def _headline(plugins: list[PluginOut], database_ok: bool) -> tuple[str, str]:
    if not database_ok:
        return "The database cannot be reached", "bad"
    if not plugins:
        return "No plugins registered: set PLUGIN_URLS", "warn"
    broken = sum(1 for p in plugins if _SEVERITY[PluginState(p.state)] <= 1)
    if broken and len(plugins) == 1:
        return "The plugin needs attention", "bad"
    if broken:
        verb = "needs" if broken == 1 else "need"
        return f"{broken} of {len(plugins)} plugins {verb} attention", "bad"
    waiting = sum(1 for p in plugins if p.state == PluginState.pending)
    if waiting and len(plugins) == 1:
        return "The plugin has not run yet", "info"
    if waiting:
        noun = "plugin has" if waiting == 1 else "plugins have"
        return f"{waiting} of {len(plugins)} {noun} not run yet", "info"
    if any(p.state == PluginState.rate_limited for p in plugins):
        return "Every plugin is working; some are deferred", "warn"
    return "Every plugin is working", "ok"


def _event_line(row: RowMapping, venue_zone: ZoneInfo) -> EventLine:
    """The event's start in its venue's zone; an all-day event's date in its own zone (the
    contract puts it at local midnight there)."""
    if row["all_day"]:
        local = row["start_at"].astimezone(
            _zone(row["timezone"]) if row["timezone"] else venue_zone
        )
        when = f"{local:%a %d %b %Y}"
    else:
        local = row["start_at"].astimezone(venue_zone)
        when = f"{local:%a %d %b %Y, %H:%M %Z}"
    event_status = row["status"]
    return EventLine(
        title=row["title"],
        when=when,
        when_iso=local.isoformat(),
        status=event_status,
        tone=_EVENT_STATUS_TONE.get(event_status),
        cancelled=event_status == "cancelled",
        url=_safe_url(row["url"]),
    )


async def _venue_cards(
    services: Services, plugins: list[PluginOut], root: str, now: datetime
) -> tuple[list[VenueCard], int]:
    rows = await reads.list_venues(services.store)
    shown = rows[:MAX_VENUES]
    upcoming = await services.store.read(
        status.upcoming_events,
        [(row["plugin_id"], row["venue_id"]) for row in shown],
        now,
        EVENTS_PER_VENUE,
        long=True,  # it counts every upcoming event of the venues shown
    )
    by_id = {p.plugin_id: p for p in plugins}
    since = quote(now.isoformat().replace("+00:00", "Z"), safe="")
    cards = []
    for row in shown:
        plugin = by_id.get(row["plugin_id"])
        success = plugin.last_success_at if plugin else None
        found = upcoming[(row["plugin_id"], row["venue_id"])]
        zone = _zone(row["timezone"])
        path = f"{quote(row['plugin_id'], safe='')}/{quote(row['venue_id'], safe='')}"
        cards.append(
            VenueCard(
                plugin_id=row["plugin_id"],
                venue_id=row["venue_id"],
                name=row["name"],
                timezone=row["timezone"],
                url=_safe_url(row["url"]),
                freshness=moment(success, now) if success else None,
                stale=plugin.stale if plugin else False,
                events=[_event_line(event, zone) for event in found.rows],
                more=found.total - len(found.rows),
                api_url=f"{root}/v1/venues/{path}",
                events_url=f"{root}/v1/venues/{path}/events?from={since}",
            )
        )
    return cards, len(rows)


def _flash(request: Request, registered: set[str]) -> Flash | None:
    query = request.query_params
    ran = query.get("ran")
    if ran is not None and ran in registered:
        return Flash("ok", f"Run of {ran} requested: it starts as soon as a run slot is free.")
    template = _ERRORS.get(query.get("error", ""))
    if template is None:
        return None
    plugin = query.get("plugin", "")
    return Flash("bad", template.format(plugin=plugin if plugin in registered else "that plugin"))


async def gather(services: Services, request: Request, now: datetime) -> StatusPage:
    """Build the page's view model: plugins worst first, venues with their next events."""
    root = request.scope.get("root_path", "").rstrip("/")
    database_detail = None
    try:
        await ping(services.store.engine)
    except Exception as exc:  # any database failure means: unreachable; say which
        logger.warning(
            "status page: database unreachable",
            extra={"action": "status_page_db_error", "error": type(exc).__name__},
        )
        database_detail = type(exc).__name__
    plugins: list[PluginOut] = []
    venues: list[VenueCard] = []
    venue_total = 0
    if database_detail is None:
        plugins = await plugin_views(services)
        venues, venue_total = await _venue_cards(services, plugins, root, now)
    plugins.sort(key=lambda p: (_SEVERITY[PluginState(p.state)], p.plugin_id))
    headline, headline_tone = _headline(plugins, database_detail is None)
    flash = _flash(request, {p.plugin_id for p in services.settings.plugins()})
    return StatusPage(
        version=__version__,
        generated=moment(now, now),
        root=root,
        refresh_seconds=REFRESH_SECONDS,
        refresh=f"{REFRESH_SECONDS}; url={root}/" if flash else str(REFRESH_SECONDS),
        database_ok=database_detail is None,
        database_detail=database_detail,
        headline=headline,
        headline_tone=headline_tone,
        summary=_summary(plugins),
        running=sum(1 for p in plugins if p.running),
        plugins=[_plugin_row(p, root, now) for p in plugins],
        venue_total=venue_total,
        venues=venues,
        venues_more=max(venue_total - len(venues), 0),
        admin_enabled=services.settings.admin_token is not None,
        flash=flash,
        links=[
            Link("Events", f"{root}/v1/events"),
            Link("Plugins", f"{root}/v1/plugins"),
            Link("Venues", f"{root}/v1/venues"),
            Link("API docs", f"{root}/docs"),
            Link("OpenAPI", f"{root}/openapi.json"),
            Link("Metrics", f"{root}/metrics"),
        ],
    )


_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@router.get("/", response_class=HTMLResponse)
async def status_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The operator's status page; 503 while the database cannot be reached."""
    page = await gather(services, request, datetime.now(UTC))
    return templates.TemplateResponse(
        request,
        "status.html",
        {"page": page},
        status_code=200 if page.database_ok else 503,
        headers=_HEADERS,
    )


# --- run now --------------------------------------------------------------------------------


async def _read_form(request: Request) -> dict[str, list[str]]:
    """A small urlencoded form body (at most MAX_FORM_BYTES), parsed without extra packages."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise ProblemError(415, "send the form as application/x-www-form-urlencoded")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise ProblemError(413, f"the form body is limited to {MAX_FORM_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ProblemError(413, f"the form body is limited to {MAX_FORM_BYTES} bytes")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise ProblemError(400, "the form body is not a valid urlencoded form") from None


def _back(request: Request, **params: str) -> RedirectResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    return RedirectResponse(f"{root}/?{urlencode(params)}", status_code=303)


@router.post("/ui/plugins/{plugin_id}/run")
async def run_now_form(request: Request, services: ServicesDep, plugin_id: str) -> RedirectResponse:
    """Run a plugin now from the page; the form sends the admin token as `token`."""
    expected = services.settings.admin_token
    if expected is None:
        raise ProblemError(403, "admin actions are disabled: ADMIN_TOKEN is not set")
    form = await _read_form(request)
    token = (form.get("token") or [""])[0]
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        return _back(request, error="bad_token", plugin=plugin_id)
    try:
        await services.scheduler.request_run(plugin_id)
    except UnknownPlugin:
        return _back(request, error="unknown")
    except RunInProgress:
        return _back(request, error="running", plugin=plugin_id)
    logger.info(
        "run requested from the status page",
        extra={"action": "run_requested", "plugin_id": plugin_id},
    )
    return _back(request, ran=plugin_id)

"""The public API's response models. They are not the contract's models on purpose: a change
to the plugin contract must not silently change what clients of the base service see."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class EventStatus(StrEnum):
    """An event's status, as schema.org's EventStatusType."""

    scheduled = "scheduled"
    cancelled = "cancelled"
    postponed = "postponed"
    rescheduled = "rescheduled"


class PluginState(StrEnum):
    """A plugin's health as seen by the base (`rate_limited`: deferred until next_run_at)."""

    pending = "pending"
    ok = "ok"
    failing = "failing"
    unreachable = "unreachable"
    incompatible = "incompatible"
    rate_limited = "rate_limited"


class Problem(BaseModel):
    """An RFC 9457 problem document, sent with every error response."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Bad Request"])
    status: int = Field(examples=[400])
    detail: str | None = Field(default=None, examples=["'to' must be after 'from'"])


class EventOut(BaseModel):
    """An event as served to clients."""

    plugin_id: str = Field(description="The plugin the event came from.", examples=["ics"])
    id: str = Field(description="The event's id, unique within its plugin.")
    venue_id: str = Field(examples=["harbour-hall"])
    title: str = Field(examples=["Jazz Night"])
    start: datetime = Field(description="Start, in the event's time zone when known, else UTC.")
    end: datetime | None = None
    all_day: bool = False
    timezone: str | None = Field(default=None, examples=["Europe/Lisbon"])
    status: EventStatus = EventStatus.scheduled
    url: str | None = None
    description: str | None = None
    image_url: str | None = None
    ticket_url: str | None = None
    categories: list[str] = Field(default_factory=list)
    performers: list[str] = Field(default_factory=list)
    updated_at: datetime | None = Field(
        default=None, description="When the source last changed it."
    )
    first_seen_at: datetime = Field(description="When Marquee first stored it.")
    last_seen_at: datetime = Field(description="When a run last saw it.")
    last_run_id: int = Field(description="The run that last saw it.")
    removed_at: datetime | None = Field(
        default=None, description="When it vanished from its plugin; set only with include_removed."
    )
    stale: bool = Field(
        default=False,
        description="Its plugin has failed for longer than STALE_AFTER_INTERVALS intervals.",
    )


class EventPage(BaseModel):
    """A page of events; pass `next_cursor` as `cursor` for the next one."""

    items: list[EventOut]
    next_cursor: str | None = None


class VenueOut(BaseModel):
    """A venue, as its plugin's manifest describes it."""

    plugin_id: str = Field(examples=["ics"])
    id: str = Field(examples=["harbour-hall"])
    name: str = Field(examples=["Harbour Hall"])
    timezone: str = Field(examples=["Europe/Lisbon"])
    address: str | None = None
    url: str | None = None
    last_success_at: datetime | None = Field(
        default=None, description="When its plugin last ran successfully."
    )
    stale: bool = Field(default=False, description="Its plugin's data is stale.")


class VenueList(BaseModel):
    """Every known venue."""

    items: list[VenueOut]


class RunCounts(BaseModel):
    """What a run fetched and changed."""

    pages: int
    fetched: int
    inserted: int
    updated: int
    removed: int
    quarantined: int


class QuarantinedRecord(BaseModel):
    """An event a run rejected, and why."""

    event_id: str | None
    reason: str


class RunOut(BaseModel):
    """One run of one plugin."""

    run_id: int
    plugin_id: str
    trigger: str = Field(description="`schedule` or `manual`.")
    replica: str | None = Field(default=None, description="The base replica that ran it.")
    started_at: datetime
    finished_at: datetime | None
    outcome: str = Field(description="`running`, `success`, `failed` or `abandoned`.")
    counts: RunCounts
    error_kind: str | None = Field(default=None, examples=["unreachable"])
    error: str | None = None


class RunDetail(RunOut):
    """A run with the reasons its quarantined records were rejected (the first 100)."""

    quarantine: list[QuarantinedRecord]


class RunList(BaseModel):
    """A plugin's runs, newest first."""

    items: list[RunOut]


class ManifestSummary(BaseModel):
    """What the plugin last said about itself."""

    plugin_id: str
    name: str
    version: str
    contract_version: str
    refresh_interval_seconds: int | None = None
    venue_count: int


class PluginOut(BaseModel):
    """A registered plugin and its state."""

    plugin_id: str = Field(description="The plugin's name in Marquee (from PLUGIN_URLS).")
    url: str
    state: PluginState
    running: bool = Field(description="A run is in flight now.")
    manifest: ManifestSummary | None = None
    last_run: RunOut | None = None
    last_success_at: datetime | None = None
    next_run_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    stale: bool = Field(
        default=False,
        description="Failing for longer than STALE_AFTER_INTERVALS intervals since last success.",
    )


class PluginList(BaseModel):
    """Every registered plugin."""

    items: list[PluginOut]


class RunAccepted(BaseModel):
    """A run-now request was accepted; the run starts as soon as a slot is free."""

    plugin_id: str
    status: str = "queued"


class Health(BaseModel):
    """Liveness or readiness."""

    status: str = Field(examples=["ok"])
    detail: str | None = None


class DryRunOut(BaseModel):
    """What a run would change now; nothing was applied."""

    plugin_id: str
    outcome: str = Field(description="`dry_run` when the run would succeed, else `failed`.")
    not_modified: bool = Field(description="The plugin answered 304: nothing would change.")
    counts: RunCounts = Field(
        description="What the run would fetch, insert, update, remove and quarantine."
    )
    quarantine: list[QuarantinedRecord]
    error_kind: str | None = None
    error: str | None = None

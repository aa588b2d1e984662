# GENERATED from openapi/plugin-api.yaml by datamodel-code-generator.
# Do not edit by hand: change the spec and run `make codegen`.

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AnyUrl, AwareDatetime, BaseModel, Field, StringConstraints


class ContractRange(BaseModel):
    """
    Optional: every contract version the plugin can speak, as an inclusive range of
    `MAJOR.MINOR` versions. A base service picks the newest version it also speaks; without
    a range, `contract_version` alone counts. A base service that speaks no version in the
    range marks the plugin `incompatible` and says why.

    """

    min: Annotated[str, Field(examples=["1.0"], pattern="^[0-9]+\\.[0-9]+$")]
    """
    The oldest contract version the plugin speaks.
    """
    max: Annotated[str, Field(examples=["1.1"], pattern="^[0-9]+\\.[0-9]+$")]
    """
    The newest contract version the plugin speaks.
    """


class Venue(BaseModel):
    """
    A place where events happen.
    """

    id: Annotated[str, Field(examples=["harbour-hall"], max_length=200, min_length=1)]
    """
    The venue's identifier, unique within the plugin and stable over time.
    """
    name: Annotated[str, Field(examples=["Harbour Hall"], max_length=500, min_length=1)]
    """
    The venue's display name.
    """
    timezone: Annotated[
        str, Field(examples=["Europe/Lisbon"], max_length=64, min_length=1)
    ]
    """
    The venue's IANA time zone name.
    """
    address: Annotated[
        str | None, Field(examples=["1 Quay Street, Lisbon"], max_length=1000)
    ] = None
    """
    The venue's postal address, one line.
    """
    url: Annotated[AnyUrl | None, Field(examples=["https://harbour-hall.example"])] = (
        None
    )
    """
    The venue's web site.
    """


class Status(StrEnum):
    """
    `ok`: everything works. `degraded`: the plugin answers but some of its sources fail
    (it serves what it has). `down`: the plugin cannot serve events now.

    """

    ok = "ok"
    degraded = "degraded"
    down = "down"


class Health(BaseModel):
    """
    Whether the plugin and its upstream source are usable.
    """

    status: Annotated[Status, Field(examples=["ok"])]
    """
    `ok`: everything works. `degraded`: the plugin answers but some of its sources fail
    (it serves what it has). `down`: the plugin cannot serve events now.

    """
    detail: Annotated[
        str | None, Field(examples=["3 of 3 feeds readable"], max_length=2000)
    ] = None
    """
    A human-readable explanation, shown to the operator.
    """


class Mode(StrEnum):
    """
    `full`: the pages of this walk together are a full snapshot (events absent from it
    are removed). `changes`: only for a walk started with a `sync_token`; the pages
    hold only events added or changed since, and `removed_ids` those removed.

    """

    full = "full"
    changes = "changes"


class EventStatus(StrEnum):
    """
    The event's status, as schema.org's EventStatusType: `scheduled` (it takes place as
    announced), `cancelled`, `postponed` (to a date not yet known), `rescheduled` (to the
    date given in `start`).

    """

    scheduled = "scheduled"
    cancelled = "cancelled"
    postponed = "postponed"
    rescheduled = "rescheduled"


class Event(BaseModel):
    """
    One occurrence of an event at a venue. A recurring event is one Event per occurrence.
    """

    id: Annotated[
        str,
        Field(
            examples=["2b1f0c9e@harbour-hall/20270108T200000Z"],
            max_length=500,
            min_length=1,
        ),
    ]
    """
    The event's identifier: unique within the plugin and stable across runs, so the
    base service can tell a changed event from a new one. For an occurrence of a
    recurring event, derive it from the series and the occurrence's original start.

    """
    venue_id: Annotated[
        str, Field(examples=["harbour-hall"], max_length=200, min_length=1)
    ]
    """
    The `id` of one of the manifest's venues.
    """
    title: Annotated[str, Field(examples=["Jazz Night"], max_length=1000, min_length=1)]
    """
    The event's title.
    """
    start: Annotated[AwareDatetime, Field(examples=["2027-01-08T20:00:00+00:00"])]
    """
    When the event starts, with a UTC offset (RFC 3339). All-day events start at local midnight.
    """
    end: Annotated[
        AwareDatetime | None, Field(examples=["2027-01-08T23:00:00+00:00"])
    ] = None
    """
    When the event ends, with a UTC offset; not before `start`. Null when unknown.
    """
    all_day: Annotated[bool, Field(examples=[False])] = False
    """
    True when the event spans whole days; `start` and `end` are then local midnights.
    """
    timezone: Annotated[
        str | None, Field(examples=["Europe/Lisbon"], max_length=64)
    ] = None
    """
    The IANA time zone the event is scheduled in, when known.
    """
    status: EventStatus = EventStatus.scheduled
    url: Annotated[
        AnyUrl | None,
        Field(examples=["https://harbour-hall.example/events/jazz-night"]),
    ] = None
    """
    A page about the event.
    """
    description: Annotated[
        str | None,
        Field(
            examples=["Our weekly jam session with the house trio."], max_length=20000
        ),
    ] = None
    """
    A plain-text description of the event.
    """
    image_url: Annotated[
        AnyUrl | None,
        Field(examples=["https://harbour-hall.example/img/jazz-night.jpg"]),
    ] = None
    """
    An image for the event.
    """
    ticket_url: Annotated[
        AnyUrl | None,
        Field(examples=["https://tickets.example/harbour-hall/jazz-night"]),
    ] = None
    """
    Where to buy tickets.
    """
    categories: Annotated[
        list[Annotated[str, StringConstraints(max_length=200)]],
        Field(examples=[["music", "jazz"]], max_length=100),
    ] = []
    """
    Free-form categories, such as genres.
    """
    performers: Annotated[
        list[Annotated[str, StringConstraints(max_length=500)]],
        Field(examples=[["The House Trio"]], max_length=200),
    ] = []
    """
    The names of the people or groups performing.
    """
    updated_at: Annotated[
        AwareDatetime | None, Field(examples=["2026-11-20T09:15:00+00:00"])
    ] = None
    """
    When the plugin's source last changed this event, with a UTC offset.
    """


class Problem(BaseModel):
    """
    An RFC 9457 problem document, sent with every error response.
    """

    type: Annotated[str, Field(examples=["about:blank"])] = "about:blank"
    """
    A URI reference naming the kind of problem: one of the `urn:marquee:problem:*`
    types in this document's introduction, or `about:blank` when it has no more meaning
    than the status.

    """
    title: Annotated[str | None, Field(examples=["Service Unavailable"])] = None
    """
    A short, human-readable summary of the kind of problem.
    """
    status: Annotated[int | None, Field(examples=[503], ge=100, le=599)] = None
    """
    The HTTP status code of the response.
    """
    detail: Annotated[
        str | None, Field(examples=["The upstream ticketing API did not answer."])
    ] = None
    """
    A human-readable explanation of this occurrence of the problem.
    """
    instance: Annotated[str | None, Field(examples=["/v1/events"])] = None
    """
    A URI reference identifying this occurrence.
    """


class Manifest(BaseModel):
    """
    What the plugin is and which venues it covers.
    """

    plugin_id: Annotated[
        str,
        Field(
            examples=["ics-feeds"], max_length=64, pattern="^[a-z0-9]+(?:-[a-z0-9]+)*$"
        ),
    ]
    """
    The plugin's own identifier: a lowercase slug. Informational: the base service
    identifies a plugin by the name the operator gives it in `PLUGIN_URLS`, so one
    plugin can be run twice with different sources.

    """
    name: Annotated[
        str, Field(examples=["iCalendar feeds"], max_length=200, min_length=1)
    ]
    """
    A human-readable name for the plugin.
    """
    version: Annotated[str, Field(examples=["1.4.2"], max_length=64, min_length=1)]
    """
    The plugin's own version, free-form (semantic versioning is customary).
    """
    contract_version: Annotated[
        str, Field(examples=["1.1"], pattern="^[0-9]+\\.[0-9]+$")
    ]
    """
    The revision of this contract the plugin implements, `MAJOR.MINOR`.
    """
    venues: Annotated[list[Venue], Field(max_length=10000)]
    """
    The venues whose events the plugin reports. Event `venue_id`s refer to these.
    """
    refresh_interval_seconds: Annotated[
        int | None, Field(examples=[21600], ge=60, le=604800)
    ] = None
    """
    How often the plugin suggests being read, in seconds. The operator's override wins;
    without either the base service reads a plugin every 6 hours.

    """
    max_page_size: Annotated[int, Field(examples=[500], ge=1, le=10000)] = 100
    """
    The largest `limit` the plugin honours on `GET /v1/events`.
    """
    contract_versions: ContractRange | None = None
    capabilities: Annotated[
        list[Annotated[str, StringConstraints(max_length=64)]],
        Field(examples=[["incremental_sync"]]),
    ] = []
    """
    Optional features the plugin supports; readers ignore values they do not know.
    Defined: `incremental_sync` (the plugin honours `sync_token` on
    `GET /v1/events`, see there).

    """


class EventsPage(BaseModel):
    """
    One page of events.
    """

    events: list[Event]
    """
    The events of this page, at most `limit` of them.
    """
    next_cursor: Annotated[
        str | None,
        Field(
            examples=["eyJzIjoiMjAyNy0wMS0wOFQyMDowMDowMCswMDowMCIsImkiOiJhYmMifQ"],
            max_length=2000,
        ),
    ]
    """
    Pass this as `cursor` to get the next page; null on the last page.
    """
    mode: Annotated[Mode, Field(examples=["full"])] = Mode.full
    """
    `full`: the pages of this walk together are a full snapshot (events absent from it
    are removed). `changes`: only for a walk started with a `sync_token`; the pages
    hold only events added or changed since, and `removed_ids` those removed.

    """
    removed_ids: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=500)]],
        Field(examples=[[]], max_length=10000),
    ] = []
    """
    In `changes` mode, ids of events removed since the `sync_token`'s walk.
    """
    sync_token: Annotated[
        str | None,
        Field(examples=["c3luYzoyMDI3LTAxLTA4VDA2OjAwOjAwWg"], max_length=2000),
    ] = None
    """
    Optional, on the last page, from plugins with `incremental_sync`: pass it as
    `sync_token` to start the next walk.

    """
    next_poll_after: Annotated[
        AwareDatetime | None, Field(examples=["2027-01-09T06:00:00+00:00"])
    ] = None
    """
    Optional, read on the last page: the plugin asks not to be read again before this
    instant (for example because its upstream publishes once a day). The base service
    defers the plugin's next scheduled run to it, at most 7 days ahead.

    """

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { eventsAt, EventsFileError, parseCatalog } from "../src/catalog.js";
import { parseDateTime } from "../src/time.js";
import { at, catalogOf, sampleCatalog, VENUES } from "./helpers.js";

const WITH_OFFSET = /(?:Z|[+-]\d{2}:\d{2})$/;

describe("the shipped events file", () => {
  const catalog = sampleCatalog();

  for (const now of ["2026-12-03T12:00:00Z", "2029-06-21T12:00:00Z", "2033-02-14T23:00:00Z"]) {
    it(`lists 20 events at two venues, all contract-shaped, at ${now}`, () => {
      const entries = eventsAt(catalog, at(now));
      const events = entries.map((entry) => entry.event);
      assert.equal(events.length, 20);
      assert.equal(new Set(events.map((event) => event.id)).size, 20, "ids are unique");
      assert.deepEqual(
        new Set(events.map((event) => event.venue_id)),
        new Set(["kestrel-hall", "marigold-stage"]),
      );
      assert.ok(events.some((event) => event.status === "cancelled"));
      assert.ok(events.some((event) => event.all_day));
      for (const event of events) {
        assert.match(event.start, WITH_OFFSET, event.id);
        assert.ok(parseDateTime(event.start).ok, event.id);
        if (event.end !== null && event.end !== undefined) {
          assert.match(event.end, WITH_OFFSET, event.id);
          assert.ok(at(event.end) >= at(event.start), `${event.id} ends before it starts`);
        }
        if (event.all_day) {
          assert.match(event.start, /T00:00:00[+-]/, event.id);
        }
      }
      // Repeating events are upcoming: none is over.
      for (const entry of entries) {
        assert.ok((entry.end ?? entry.key.start) >= at(now), entry.event.id);
      }
    });
  }

  it("gives each occurrence an id from its entry and local date, in listing order", () => {
    const events = eventsAt(catalog, at("2027-03-20T12:00:00Z")).map((entry) => entry.event);
    const jazz = events.filter((event) => event.id.startsWith("thursday-jazz/"));
    assert.deepEqual(
      jazz.map((event) => [event.id, event.start, event.end]),
      [
        ["thursday-jazz/2027-03-25", "2027-03-25T20:00:00+01:00", "2027-03-25T22:30:00+01:00"],
        // Berlin moved to summer time on 28 March; the wall time stays 20:00.
        ["thursday-jazz/2027-04-01", "2027-04-01T20:00:00+02:00", "2027-04-01T22:30:00+02:00"],
        ["thursday-jazz/2027-04-08", "2027-04-08T20:00:00+02:00", "2027-04-08T22:30:00+02:00"],
        ["thursday-jazz/2027-04-15", "2027-04-15T20:00:00+02:00", "2027-04-15T22:30:00+02:00"],
      ],
    );
    const starts = events.map((event) => at(event.start));
    assert.deepEqual(
      starts,
      [...starts].sort((a, b) => a - b),
    );
    const festival = events.find((event) => event.id.startsWith("harvest-folk-festival/"));
    assert.deepEqual(
      [festival?.start, festival?.end, festival?.all_day],
      ["2027-09-19T00:00:00-05:00", "2027-09-21T00:00:00-05:00", true],
    );
    const showcase = events.find((event) => event.id === "spring-showcase/2027-04-18");
    assert.equal(showcase?.end, null);
  });

  it("keeps an occurrence that is going on, and drops it once it is over", () => {
    const ids = (now: string): string[] =>
      eventsAt(catalog, at(now)).map((entry) => entry.event.id);
    // New Year's Eve concert: 21:00 to 00:30 in Berlin.
    assert.ok(ids("2026-12-31T23:15:00Z").includes("new-years-eve-concert/2026-12-31"));
    assert.ok(!ids("2026-12-31T23:31:00Z").includes("new-years-eve-concert/2026-12-31"));
    assert.ok(ids("2026-12-31T23:31:00Z").includes("new-years-eve-concert/2027-12-31"));
  });
});

describe("events file validation", () => {
  const base = { id: "x", venue_id: "north", title: "X", date: "2030-01-01", time: "20:00" };

  it("lists every problem with where it is", () => {
    const document = {
      venues: [...VENUES, { id: "north", name: "", timezone: "Nowhere/City", url: "ftp://x" }],
      events: [
        { ...base, venue_id: "west", status: "maybe", colour: "red" },
        { ...base, id: "Has Spaces", date: "2030-02-30" },
        { ...base, id: "both", repeat: { weekly: "funday", count: 0 } },
        { ...base, id: "all-day-duration", time: undefined, duration_minutes: 60 },
        { ...base, id: "no-count", date: undefined, repeat: { yearly: "13-01" } },
        { ...base, id: "x", updated_at: "2027-01-01T00:00:00" },
      ],
    };
    const error = (() => {
      try {
        catalogOf(document);
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    assert.ok(error instanceof EventsFileError);
    const text = error.problems.join("\n");
    for (const expected of [
      'venues[2].id repeats the venue id "north"',
      "venues[2].name must be a non-empty string",
      "venues[2].timezone is not an IANA time zone",
      "venues[2].url must be an absolute http(s) URL",
      'events[0] has an unknown field "colour"',
      'events[0].venue_id names no venue of the file: "west"',
      "events[0].status must be one of scheduled, cancelled, postponed, rescheduled",
      "events[1].id must be lowercase",
      "events[1].date must be a date YYYY-MM-DD",
      "events[2].date or .repeat must be given, and not both",
      "events[3].duration_minutes is for events with a time",
      "events[4].repeat.yearly must be a month and day MM-DD",
      "events[4].repeat.count is required",
      'events[5].id repeats the event id "x"',
      "events[5].updated_at must be an RFC 3339 date-time with a UTC offset",
    ]) {
      assert.ok(text.includes(expected), `missing ${JSON.stringify(expected)} in:\n${text}`);
    }
  });

  it("refuses what is not an events file at all", () => {
    assert.throws(
      () => parseCatalog("{", "bad.json"),
      /bad.json is not a valid events file:\n {2}- is not JSON/,
    );
    assert.throws(() => parseCatalog("[]", "bad.json"), /lists `venues` and `events`/);
    assert.throws(
      () => parseCatalog('{"venues":[],"events":[]}', "bad.json"),
      /at least one venue/,
    );
  });

  it("repeats 29 February only in leap years", () => {
    const catalog = catalogOf({
      venues: VENUES,
      events: [
        { id: "leap", venue_id: "north", title: "Leap Day", repeat: { yearly: "02-29", count: 2 } },
      ],
    });
    const ids = eventsAt(catalog, at("2027-06-01T00:00:00Z")).map((entry) => entry.event.id);
    assert.deepEqual(ids, ["leap/2028-02-29", "leap/2032-02-29"]);
  });

  it("defaults: scheduled, not all-day when timed, empty lists and nulls", () => {
    const catalog = catalogOf({ venues: VENUES, events: [base] });
    const [entry] = eventsAt(catalog, at("2027-01-01T00:00:00Z"));
    assert.deepEqual(entry?.event, {
      id: "x",
      venue_id: "north",
      title: "X",
      start: "2030-01-01T20:00:00+01:00",
      end: null,
      all_day: false,
      timezone: "Europe/Berlin",
      status: "scheduled",
      url: null,
      description: null,
      image_url: null,
      ticket_url: null,
      categories: [],
      performers: [],
      updated_at: null,
    });
  });
});

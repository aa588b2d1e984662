import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { type Entry, eventsAt } from "../src/catalog.js";
import { decodeCursor, encodeCursor } from "../src/cursor.js";
import {
  type Filters,
  ifNoneMatchHits,
  matches,
  NO_FILTERS,
  pageOf,
  snapshotTag,
} from "../src/listing.js";
import { at, catalogOf, sampleCatalog, VENUES } from "./helpers.js";

const NOW = at("2027-03-20T12:00:00Z");
const ENTRIES = eventsAt(sampleCatalog(), NOW);

/** Every event of a walk, following next_cursor; fails on a repeated cursor. */
function walk(entries: readonly Entry[], filters: Filters, limit: number): string[] {
  const ids: string[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const page = pageOf(entries, filters, cursor === null ? null : decodeCursor(cursor), limit);
    assert.ok(page.events.length <= limit);
    assert.ok(
      page.next_cursor === null || page.events.length === limit,
      "only full pages have a next page",
    );
    ids.push(...page.events.map((event) => event.id));
    cursor = page.next_cursor;
    if (cursor !== null) {
      assert.ok(!seen.has(cursor), "a cursor repeats");
      seen.add(cursor);
    }
  } while (cursor !== null);
  return ids;
}

describe("pagination", () => {
  it("walks every event exactly once, in order, whatever the page size", () => {
    const all = ENTRIES.map((entry) => entry.event.id);
    for (let limit = 1; limit <= all.length + 2; limit++) {
      assert.deepEqual(walk(ENTRIES, NO_FILTERS, limit), all, `limit ${limit}`);
    }
  });

  it("has no next page when the events fit exactly", () => {
    const page = pageOf(ENTRIES, NO_FILTERS, null, ENTRIES.length);
    assert.equal(page.events.length, ENTRIES.length);
    assert.equal(page.next_cursor, null);
    assert.equal(page.mode, "full");
    assert.deepEqual(page.removed_ids, []);
  });

  it("continues after the cursor's position even when events change meanwhile", () => {
    const first = pageOf(ENTRIES, NO_FILTERS, null, 5);
    assert.ok(first.next_cursor !== null);
    // The third event is removed and the snapshot moves on a week before the next page.
    const later = eventsAt(sampleCatalog(), NOW + 7 * 86_400_000).filter(
      (entry) => entry.event.id !== ENTRIES[2]?.event.id,
    );
    const second = pageOf(later, NO_FILTERS, decodeCursor(first.next_cursor), 5);
    const lastStart = at(first.events.at(-1)?.start ?? "");
    assert.ok(second.events.every((event) => at(event.start) >= lastStart));
    assert.ok(second.events.every((event) => !first.events.some((seen) => seen.id === event.id)));
  });

  it("answers an empty last page after the end", () => {
    const last = ENTRIES.at(-1) as Entry;
    const page = pageOf(ENTRIES, NO_FILTERS, decodeCursor(encodeCursor(last.key)), 10);
    assert.deepEqual(page.events, []);
    assert.equal(page.next_cursor, null);
  });

  it("pages a filtered listing without gaps", () => {
    const filters: Filters = { venueId: "marigold-stage", from: null, to: null };
    const expected = ENTRIES.filter((entry) => entry.event.venue_id === "marigold-stage").map(
      (entry) => entry.event.id,
    );
    assert.ok(expected.length > 3);
    for (const limit of [1, 2, 3, 100]) {
      assert.deepEqual(walk(ENTRIES, filters, limit), expected);
    }
  });
});

describe("filters", () => {
  const catalog = catalogOf({
    venues: VENUES,
    events: [
      // 10:00 to 12:00 UTC
      {
        id: "timed",
        venue_id: "north",
        title: "Timed",
        date: "2030-01-01",
        time: "11:00",
        duration_minutes: 120,
      },
      // starts 14:00 UTC, no end
      { id: "open", venue_id: "north", title: "Open", date: "2030-01-01", time: "15:00" },
      // all day in Chicago: 06:00 UTC on 1 January to 06:00 UTC on 2 January
      { id: "day", venue_id: "south", title: "Day", date: "2030-01-01" },
    ],
  });
  const entries = eventsAt(catalog, at("2029-01-01T00:00:00Z"));
  const ids = (filters: Partial<Filters>): string[] =>
    entries
      .filter((entry) => matches(entry, { ...NO_FILTERS, ...filters }))
      .map((entry) => entry.event.id);

  it("`from` keeps events that end at or after it (without an end: that start at or after it)", () => {
    assert.deepEqual(ids({ from: at("2030-01-01T12:00:00Z") }), ["day", "timed", "open"]);
    assert.deepEqual(ids({ from: at("2030-01-01T12:00:01Z") }), ["day", "open"]);
    assert.deepEqual(ids({ from: at("2030-01-01T14:00:00Z") }), ["day", "open"]);
    assert.deepEqual(ids({ from: at("2030-01-01T14:00:01Z") }), ["day"]);
    assert.deepEqual(ids({ from: at("2030-01-02T06:00:00Z") }), ["day"]);
    assert.deepEqual(ids({ from: at("2030-01-02T06:00:01Z") }), []);
  });

  it("`to` keeps events that start before it", () => {
    assert.deepEqual(ids({ to: at("2030-01-01T06:00:00Z") }), []);
    assert.deepEqual(ids({ to: at("2030-01-01T06:00:01Z") }), ["day"]);
    assert.deepEqual(ids({ to: at("2030-01-01T10:00:01Z") }), ["day", "timed"]);
    assert.deepEqual(ids({ to: at("2030-01-01T14:00:00Z") }), ["day", "timed"]);
  });

  it("together select the events that overlap the window, at one venue", () => {
    const window = { from: at("2030-01-01T11:00:00+00:00"), to: at("2030-01-01T15:00:00+01:00") };
    // "open" starts at 14:00 UTC, which is not before `to`.
    assert.deepEqual(ids(window), ["day", "timed"]);
    assert.deepEqual(ids({ ...window, to: at("2030-01-01T14:00:01Z") }), ["day", "timed", "open"]);
    assert.deepEqual(ids({ ...window, venueId: "north" }), ["timed"]);
    assert.deepEqual(ids({ venueId: "south" }), ["day"]);
  });

  it("stop a page at the first event past `to`", () => {
    const page = pageOf(entries, { ...NO_FILTERS, to: at("2030-01-01T10:00:01Z") }, null, 1);
    assert.deepEqual(
      page.events.map((event) => event.id),
      ["day"],
    );
    assert.notEqual(page.next_cursor, null);
    const next = pageOf(
      entries,
      { ...NO_FILTERS, to: at("2030-01-01T10:00:01Z") },
      decodeCursor(page.next_cursor ?? ""),
      1,
    );
    assert.deepEqual(
      next.events.map((event) => event.id),
      ["timed"],
    );
    assert.equal(next.next_cursor, null);
  });
});

describe("snapshot tags", () => {
  it("are strong quoted tags that change with the events and with the filters", () => {
    const tag = snapshotTag(ENTRIES, NO_FILTERS);
    assert.match(tag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(snapshotTag(eventsAt(sampleCatalog(), NOW), NO_FILTERS), tag);
    assert.notEqual(snapshotTag(ENTRIES.slice(1), NO_FILTERS), tag);
    assert.notEqual(snapshotTag(ENTRIES, { ...NO_FILTERS, venueId: "kestrel-hall" }), tag);
    const changed = ENTRIES.map((entry, index) =>
      index === 3 ? { ...entry, event: { ...entry.event, status: "cancelled" as const } } : entry,
    );
    assert.notEqual(snapshotTag(changed, NO_FILTERS), tag);
  });

  it("are matched by If-None-Match lists, weak forms and *", () => {
    const tag = '"abc"';
    assert.ok(ifNoneMatchHits('"abc"', tag));
    assert.ok(ifNoneMatchHits('"x", W/"abc"', tag));
    assert.ok(ifNoneMatchHits("*", tag));
    assert.ok(!ifNoneMatchHits('"abcd"', tag));
    assert.ok(!ifNoneMatchHits("abc", tag));
    assert.ok(!ifNoneMatchHits(undefined, tag));
  });
});

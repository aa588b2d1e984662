// GET /v1/events over a sorted list of entries: filters, keyset pages and the snapshot's tag.
import { createHash } from "node:crypto";

import type { Entry } from "./catalog.js";
import type { EventsPage } from "./contract.js";
import { compareKeys, encodeCursor, type SortKey } from "./cursor.js";

export interface Filters {
  venueId: string | null;
  /** Only events that end at or after this instant (without an end: that start at or after it). */
  from: number | null;
  /** Only events that start before this instant. */
  to: number | null;
}

export const NO_FILTERS: Filters = { venueId: null, from: null, to: null };

/** True when the entry passes every filter (the contract's overlap semantics). */
export function matches(entry: Entry, filters: Filters): boolean {
  if (filters.venueId !== null && entry.event.venue_id !== filters.venueId) {
    return false;
  }
  if (filters.to !== null && entry.key.start >= filters.to) {
    return false;
  }
  if (filters.from !== null && (entry.end ?? entry.key.start) < filters.from) {
    return false;
  }
  return true;
}

/** The index of the first entry strictly after `key` (entries are sorted by key). */
function firstAfter(entries: readonly Entry[], key: SortKey): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareKeys((entries[middle] as Entry).key, key) <= 0) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}

/**
 * One page: up to `limit` matching entries strictly after `after` (from the start without it),
 * and the cursor of the next page when more follow.
 */
export function pageOf(
  entries: readonly Entry[],
  filters: Filters,
  after: SortKey | null,
  limit: number,
): EventsPage {
  const chosen: Entry[] = [];
  for (
    let index = after === null ? 0 : firstAfter(entries, after);
    index < entries.length;
    index++
  ) {
    const entry = entries[index] as Entry;
    // Entries are in start order: none later can start before `to`.
    if (filters.to !== null && entry.key.start >= filters.to) {
      break;
    }
    if (matches(entry, filters)) {
      chosen.push(entry);
      if (chosen.length > limit) {
        break;
      }
    }
  }
  const more = chosen.length > limit;
  const events = chosen.slice(0, limit);
  const last = events.at(-1);
  return {
    events: events.map((entry) => entry.event),
    next_cursor: more && last !== undefined ? encodeCursor(last.key) : null,
    mode: "full",
    removed_ids: [],
  };
}

/**
 * A strong entity tag of the whole snapshot a walk with these filters returns: it changes when
 * any event of it changes, and differs between filters.
 */
export function snapshotTag(entries: readonly Entry[], filters: Filters): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(filters));
  for (const entry of entries) {
    if (matches(entry, filters)) {
      hash.update("\n");
      hash.update(JSON.stringify(entry.event));
    }
  }
  return `"${hash.digest("base64url").slice(0, 27)}"`;
}

/** True when an `If-None-Match` header names `tag` (or is `*`); weak tags compare weakly. */
export function ifNoneMatchHits(header: string | undefined, tag: string): boolean {
  if (header === undefined) {
    return false;
  }
  return header
    .split(",")
    .map((candidate) => candidate.trim())
    .some((candidate) => candidate === "*" || candidate.replace(/^W\//, "") === tag);
}

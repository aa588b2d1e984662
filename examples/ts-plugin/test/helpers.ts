// Shared test fixtures: the shipped events file, fixed clocks, small catalogs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { type Catalog, parseCatalog } from "../src/catalog.js";
import { parseDateTime } from "../src/time.js";

/** The shipped sample (tests run from build/test/). */
export const SAMPLE_FILE = fileURLToPath(new URL("../../data/events.json", import.meta.url));

export function sampleCatalog(): Catalog {
  return parseCatalog(readFileSync(SAMPLE_FILE, "utf8"), "events.json");
}

/** The instant an RFC 3339 date-time with an offset stands for. */
export function at(text: string): number {
  const parsed = parseDateTime(text);
  if (!parsed.ok) {
    throw new Error(`bad test date-time ${text}: ${parsed.reason}`);
  }
  return parsed.instant;
}

/** A catalog from a file document given as an object. */
export function catalogOf(document: unknown): Catalog {
  return parseCatalog(JSON.stringify(document), "test.json");
}

export const VENUES = [
  { id: "north", name: "North Room", timezone: "Europe/Berlin" },
  { id: "south", name: "South Room", timezone: "America/Chicago" },
];

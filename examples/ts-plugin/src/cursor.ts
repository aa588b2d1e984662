// Opaque page cursors: base64url of the sort key (start, id) of the last event of a page.
// A cursor names a position in the listing order, not a page of a stored result, so it stays
// valid however the events change while the base service walks the pages.
import { formatUtc, parseDateTime } from "./time.js";

/** Where an event sits in the listing order: by start instant, then by id. */
export interface SortKey {
  start: number; // epoch milliseconds
  id: string;
}

/** The cursor was not issued by this plugin, or was altered. */
export class CursorError extends Error {
  constructor() {
    super("the cursor is not one this plugin issued");
    this.name = "CursorError";
  }
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Orders sort keys: start first, then id (by UTF-16 code units, as `<` compares strings). */
export function compareKeys(a: SortKey, b: SortKey): number {
  if (a.start !== b.start) {
    return a.start < b.start ? -1 : 1;
  }
  if (a.id === b.id) {
    return 0;
  }
  return a.id < b.id ? -1 : 1;
}

/** The cursor that continues the listing strictly after `key`. */
export function encodeCursor(key: SortKey): string {
  const document = JSON.stringify({ s: formatUtc(key.start), i: key.id });
  return Buffer.from(document, "utf8").toString("base64url");
}

/** The sort key `cursor` stands for; throws CursorError if this plugin did not issue it. */
export function decodeCursor(cursor: string): SortKey {
  // Node's base64 decoder skips characters outside the alphabet; a cursor may not have any.
  if (!BASE64URL.test(cursor) || cursor.length % 4 === 1) {
    throw new CursorError();
  }
  let document: unknown;
  try {
    document = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(cursor, "base64url")),
    );
  } catch {
    throw new CursorError();
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new CursorError();
  }
  const fields = document as Record<string, unknown>;
  const { s, i } = fields;
  if (Object.keys(fields).length !== 2 || typeof s !== "string" || typeof i !== "string") {
    throw new CursorError();
  }
  const start = parseDateTime(s);
  if (!start.ok || i.length === 0) {
    throw new CursorError();
  }
  return { start: start.instant, id: i };
}

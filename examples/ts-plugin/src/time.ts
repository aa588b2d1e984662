// Instants, RFC 3339 date-times and IANA time zones, with nothing but the platform's Intl.
//
// An instant is a number of milliseconds since the Unix epoch (UTC). A local date is a calendar
// date with no zone; a wall time is minutes since local midnight.

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

export interface LocalDate {
  year: number;
  month: number; // 1-12
  day: number; // 1-31
}

export type ParsedDateTime = { ok: true; instant: number } | { ok: false; reason: string };

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))?$/;
const SPACE_FOR_PLUS = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)? \d{2}:\d{2}$/;

/** An instant from year, month (1-12), day, hour, minute, second, millisecond, all in UTC. */
function utc(year: number, month: number, day: number, h = 0, m = 0, s = 0, ms = 0): number {
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(h, m, s, ms);
  return date.getTime();
}

export function daysInMonth(year: number, month: number): number {
  return new Date(utc(year, month + 1, 0)).getUTCDate();
}

export function isValidDate(year: number, month: number, day: number): boolean {
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month);
}

/**
 * An RFC 3339 date-time that carries a UTC offset (`Z` or `±HH:MM`), as the contract requires.
 * Fractions of a second beyond milliseconds are dropped.
 */
export function parseDateTime(text: string): ParsedDateTime {
  if (SPACE_FOR_PLUS.test(text)) {
    return {
      ok: false,
      reason: "has a space where its offset's sign should be (send '+' in a URL as %2B)",
    };
  }
  const match = RFC3339.exec(text);
  if (match === null) {
    return { ok: false, reason: "is not an RFC 3339 date-time" };
  }
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, oh, om] = match;
  if (zulu === undefined && sign === undefined) {
    return { ok: false, reason: "has no UTC offset (add Z or ±HH:MM)" };
  }
  const [year, month, day] = [Number(y), Number(mo), Number(d)];
  const [hour, minute, second] = [Number(h), Number(mi), Number(s)];
  const [offsetHours, offsetMinutes] = [Number(oh ?? 0), Number(om ?? 0)];
  if (
    year < 1 ||
    !isValidDate(year, month, day) ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return { ok: false, reason: "is not a valid date-time" };
  }
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, "0"));
  const offset = (sign === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * MINUTE_MS;
  return { ok: true, instant: utc(year, month, day, hour, minute, second, millis) - offset };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (found === undefined) {
    found = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      era: "short",
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** True when the platform knows `name` as an IANA time zone. */
export function isValidTimeZone(name: string): boolean {
  if (name.length === 0) {
    return false;
  }
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock fields of `instant` in `timeZone`, as if they were UTC (whole seconds). */
function wallClock(instant: number, timeZone: string): number {
  const fields: Record<string, string> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) {
    fields[part.type] = part.value;
  }
  const year = fields.era === "BC" ? 1 - Number(fields.year) : Number(fields.year);
  return utc(
    year,
    Number(fields.month),
    Number(fields.day),
    Number(fields.hour),
    Number(fields.minute),
    Number(fields.second),
  );
}

/** The zone's UTC offset at `instant`, in milliseconds (positive east of Greenwich). */
export function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  return wallClock(whole, timeZone) - whole;
}

/**
 * The instant at which the wall clocks of `timeZone` show `minutes` past midnight of `date`.
 * A wall time that occurs twice (clocks going back) is its first occurrence; one that does not
 * occur (clocks going forward) is read with the offset before the change, so it falls after it.
 */
export function zonedInstant(date: LocalDate, minutes: number, timeZone: string): number {
  const wall = utc(date.year, date.month, date.day) + minutes * MINUTE_MS;
  const before = offsetAt(wall - DAY_MS, timeZone);
  const after = offsetAt(wall + DAY_MS, timeZone);
  const fits = [wall - before, wall - after].filter(
    (instant) => wall - offsetAt(instant, timeZone) === instant,
  );
  return fits.length > 0 ? Math.min(...fits) : wall - before;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/**
 * `instant` as an RFC 3339 date-time in the wall time of `timeZone`, with its offset (and its
 * milliseconds, when it has any).
 */
export function formatInZone(instant: number, timeZone: string): string {
  const offset = offsetAt(instant, timeZone);
  const local = new Date(instant + offset);
  const sign = offset < 0 ? "-" : "+";
  const offsetMinutes = Math.abs(offset) / MINUTE_MS;
  return (
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    (local.getUTCMilliseconds() === 0 ? "" : `.${pad(local.getUTCMilliseconds(), 3)}`) +
    `${sign}${pad(Math.floor(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`
  );
}

/** `instant` as an RFC 3339 date-time in UTC, written with the offset `+00:00`. */
export function formatUtc(instant: number): string {
  return formatInZone(instant, "UTC");
}

/** The calendar date the wall clocks of `timeZone` show at `instant`. */
export function localDateAt(instant: number, timeZone: string): LocalDate {
  const local = new Date(instant + offsetAt(instant, timeZone));
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
}

/** `date` moved by `days` calendar days. */
export function addDays(date: LocalDate, days: number): LocalDate {
  const moved = new Date(utc(date.year, date.month, date.day) + days * DAY_MS);
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

/** The day of the week of `date`: 0 for Sunday to 6 for Saturday. */
export function weekday(date: LocalDate): number {
  return new Date(utc(date.year, date.month, date.day)).getUTCDay();
}

/** `date` as `YYYY-MM-DD`. */
export function formatDate(date: LocalDate): string {
  return `${pad(date.year, 4)}-${pad(date.month)}-${pad(date.day)}`;
}

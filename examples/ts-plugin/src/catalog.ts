// The events file: its format, its validation, and the events it stands for at a given moment.
//
// The file lists venues and event *templates*. A template happens once (`date`) or repeats
// (`repeat`: weekly on a weekday, or yearly on a month and day, for the next `count`
// occurrences that are not over yet), so the shipped sample stays upcoming however old it gets.
// Times in the file are the venue's wall-clock times; the plugin adds the UTC offsets.
import type { Event, EventStatus, Venue } from "./contract.js";
import { eventStatusValues } from "./contract.js";
import { compareKeys, type SortKey } from "./cursor.js";
import {
  addDays,
  formatDate,
  formatInZone,
  isValidDate,
  isValidTimeZone,
  type LocalDate,
  localDateAt,
  parseDateTime,
  weekday,
  zonedInstant,
} from "./time.js";

/** What a template says about each of its events beyond when and where. */
type EventDetails = Pick<
  Event,
  | "title"
  | "status"
  | "url"
  | "description"
  | "image_url"
  | "ticket_url"
  | "categories"
  | "performers"
  | "updated_at"
>;

export type When =
  | { kind: "once"; date: LocalDate }
  | { kind: "weekly"; weekday: number; count: number }
  | { kind: "yearly"; month: number; day: number; count: number };

export interface EventTemplate {
  id: string;
  venue: Venue;
  when: When;
  /** Minutes past local midnight; null for an all-day event. */
  startMinutes: number | null;
  /** Length of a timed event; null when its end is unknown. */
  durationMinutes: number | null;
  /** Length of an all-day event, in days. */
  days: number;
  details: EventDetails;
}

export interface Catalog {
  venues: Venue[];
  templates: EventTemplate[];
}

/** One event of the listing, with its sort key and end instant for filtering. */
export interface Entry {
  key: SortKey;
  end: number | null;
  event: Event;
}

/** The events file cannot be used; `problems` says where and why. */
export class EventsFileError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid events file:\n  - ${problems.join("\n  - ")}`);
    this.name = "EventsFileError";
  }
}

const WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const TEMPLATE_ID = /^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH_DAY = /^(\d{2})-(\d{2})$/;
const TIME = /^(\d{2}):(\d{2})$/;
const MAX_DURATION_MINUTES = 7 * 24 * 60;
const MAX_WEEKLY_COUNT = 520;
const MAX_YEARLY_COUNT = 20;
const MAX_ALL_DAY_DAYS = 31;

const VENUE_KEYS = new Set(["id", "name", "timezone", "address", "url"]);
const EVENT_KEYS = new Set([
  "id",
  "venue_id",
  "date",
  "repeat",
  "time",
  "duration_minutes",
  "days",
  "title",
  "status",
  "url",
  "description",
  "image_url",
  "ticket_url",
  "categories",
  "performers",
  "updated_at",
]);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads one object's fields, recording every problem instead of stopping at the first. */
class Fields {
  constructor(
    private readonly object: Json,
    private readonly path: string,
    private readonly problems: string[],
  ) {}

  problem(field: string, message: string): void {
    this.problems.push(`${this.path}.${field} ${message}`);
  }

  onlyKnown(known: Set<string>): void {
    for (const key of Object.keys(this.object)) {
      if (!known.has(key) && !key.startsWith("$")) {
        this.problems.push(`${this.path} has an unknown field ${JSON.stringify(key)}`);
      }
    }
  }

  has(field: string): boolean {
    return this.object[field] !== undefined;
  }

  string(field: string, options: { max: number; required: true }): string;
  string(field: string, options: { max: number; required?: false }): string | null;
  string(
    field: string,
    { max, required = false }: { max: number; required?: boolean },
  ): string | null {
    const value = this.object[field];
    if (value === undefined || value === null) {
      if (required) {
        this.problem(field, "is required");
        return "";
      }
      return null;
    }
    if (typeof value !== "string" || (required && value.length === 0)) {
      this.problem(field, required ? "must be a non-empty string" : "must be a string or null");
      return required ? "" : null;
    }
    if (value.length > max) {
      this.problem(field, `is longer than ${max} characters`);
    }
    return value;
  }

  url(field: string): string | null {
    const value = this.string(field, { max: 2000 });
    if (value !== null && !isHttpUrl(value)) {
      this.problem(field, "must be an absolute http(s) URL");
    }
    return value;
  }

  strings(field: string, { maxItems, max }: { maxItems: number; max: number }): string[] {
    const value = this.object[field];
    if (value === undefined || value === null) {
      return [];
    }
    if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
      this.problem(field, "must be a list of strings");
      return [];
    }
    if (value.length > maxItems) {
      this.problem(field, `has more than ${maxItems} items`);
    }
    if (value.some((item: string) => item.length > max)) {
      this.problem(field, `has an item longer than ${max} characters`);
    }
    return value as string[];
  }

  integer(field: string, min: number, max: number): number | null {
    const value = this.object[field];
    if (value === undefined || value === null) {
      return null;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.problem(field, `must be a whole number from ${min} to ${max}`);
      return null;
    }
    return value;
  }

  nested(field: string): Fields | null {
    const value = this.object[field];
    if (!isObject(value)) {
      this.problem(field, "must be an object");
      return null;
    }
    return new Fields(value, `${this.path}.${field}`, this.problems);
  }
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function parseLocalDate(text: string): LocalDate | null {
  const match = DATE.exec(text);
  if (match === null) {
    return null;
  }
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  return year >= 1 && isValidDate(year, month, day) ? { year, month, day } : null;
}

function parseVenue(value: unknown, path: string, problems: string[]): Venue | null {
  if (!isObject(value)) {
    problems.push(`${path} must be an object`);
    return null;
  }
  const fields = new Fields(value, path, problems);
  fields.onlyKnown(VENUE_KEYS);
  const venue: Venue = {
    id: fields.string("id", { max: 200, required: true }),
    name: fields.string("name", { max: 500, required: true }),
    timezone: fields.string("timezone", { max: 64, required: true }),
    address: fields.string("address", { max: 1000 }),
    url: fields.url("url"),
  };
  if (venue.timezone !== "" && !isValidTimeZone(venue.timezone)) {
    fields.problem("timezone", `is not an IANA time zone: ${JSON.stringify(venue.timezone)}`);
  }
  return venue;
}

function parseWhen(fields: Fields): When | null {
  if (fields.has("date") === fields.has("repeat")) {
    fields.problem("date", "or .repeat must be given, and not both");
    return null;
  }
  if (fields.has("date")) {
    const text = fields.string("date", { max: 10, required: true });
    const date = parseLocalDate(text);
    if (date === null) {
      fields.problem("date", `must be a date YYYY-MM-DD: ${JSON.stringify(text)}`);
    }
    return date === null ? null : { kind: "once", date };
  }
  const repeat = fields.nested("repeat");
  if (repeat === null) {
    return null;
  }
  if (repeat.has("weekly") === repeat.has("yearly")) {
    repeat.problem("weekly", "or .yearly must be given, and not both");
    return null;
  }
  repeat.onlyKnown(new Set(["weekly", "yearly", "count"]));
  if (repeat.has("weekly")) {
    const name = repeat.string("weekly", { max: 9, required: true });
    const count = repeat.integer("count", 1, MAX_WEEKLY_COUNT);
    const day = WEEKDAYS.indexOf(name);
    if (day < 0) {
      repeat.problem("weekly", `must be a day of the week (${WEEKDAYS.join(", ")})`);
    }
    if (count === null) {
      repeat.problem("count", "is required");
    }
    return day < 0 || count === null ? null : { kind: "weekly", weekday: day, count };
  }
  const text = repeat.string("yearly", { max: 5, required: true });
  const count = repeat.integer("count", 1, MAX_YEARLY_COUNT);
  const match = MONTH_DAY.exec(text);
  const [month, day] = match === null ? [0, 0] : [Number(match[1]), Number(match[2])];
  if (!isValidDate(2000, month, day)) {
    repeat.problem("yearly", `must be a month and day MM-DD: ${JSON.stringify(text)}`);
  }
  if (count === null) {
    repeat.problem("count", "is required");
  }
  return !isValidDate(2000, month, day) || count === null
    ? null
    : { kind: "yearly", month, day, count };
}

function parseTemplate(
  value: unknown,
  path: string,
  venues: Map<string, Venue>,
  problems: string[],
): EventTemplate | null {
  if (!isObject(value)) {
    problems.push(`${path} must be an object`);
    return null;
  }
  const before = problems.length;
  const fields = new Fields(value, path, problems);
  fields.onlyKnown(EVENT_KEYS);
  const id = fields.string("id", { max: 200, required: true });
  if (id !== "" && !TEMPLATE_ID.test(id)) {
    fields.problem("id", "must be lowercase letters and digits, joined by '-', '_' or '.'");
  }
  const venueId = fields.string("venue_id", { max: 200, required: true });
  const venue = venues.get(venueId);
  if (venueId !== "" && venue === undefined) {
    fields.problem("venue_id", `names no venue of the file: ${JSON.stringify(venueId)}`);
  }
  const when = parseWhen(fields);

  let startMinutes: number | null = null;
  const time = fields.string("time", { max: 5 });
  if (time !== null) {
    const match = TIME.exec(time);
    const [hour, minute] = match === null ? [24, 0] : [Number(match[1]), Number(match[2])];
    if (hour > 23 || minute > 59) {
      fields.problem("time", `must be a wall-clock time HH:MM: ${JSON.stringify(time)}`);
    } else {
      startMinutes = hour * 60 + minute;
    }
  }
  const durationMinutes = fields.integer("duration_minutes", 1, MAX_DURATION_MINUTES);
  const days = fields.integer("days", 1, MAX_ALL_DAY_DAYS);
  if (time === null && durationMinutes !== null) {
    fields.problem("duration_minutes", "is for events with a time; an all-day event has .days");
  }
  if (time !== null && days !== null) {
    fields.problem("days", "is for all-day events (without .time)");
  }

  const statusText = fields.string("status", { max: 64 }) ?? "scheduled";
  const status = eventStatusValues.find((known) => known === statusText);
  if (status === undefined) {
    fields.problem("status", `must be one of ${eventStatusValues.join(", ")}`);
  }
  const updatedAt = fields.string("updated_at", { max: 64 });
  if (updatedAt !== null && !parseDateTime(updatedAt).ok) {
    fields.problem("updated_at", "must be an RFC 3339 date-time with a UTC offset");
  }
  const details: EventDetails = {
    title: fields.string("title", { max: 1000, required: true }),
    status: status ?? ("scheduled" satisfies EventStatus),
    url: fields.url("url"),
    description: fields.string("description", { max: 20000 }),
    image_url: fields.url("image_url"),
    ticket_url: fields.url("ticket_url"),
    categories: fields.strings("categories", { maxItems: 100, max: 200 }),
    performers: fields.strings("performers", { maxItems: 200, max: 500 }),
    updated_at: updatedAt,
  };
  if (problems.length > before || venue === undefined || when === null) {
    return null;
  }
  return { id, venue, when, startMinutes, durationMinutes, days: days ?? 1, details };
}

/** Parses and validates the text of an events file; throws EventsFileError listing every problem. */
export function parseCatalog(text: string, source: string): Catalog {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new EventsFileError(source, [`is not JSON: ${(error as Error).message}`]);
  }
  if (!isObject(document) || !Array.isArray(document.venues) || !Array.isArray(document.events)) {
    throw new EventsFileError(source, ["must be an object with the lists `venues` and `events`"]);
  }
  const problems: string[] = [];
  const venues = new Map<string, Venue>();
  document.venues.forEach((value, index) => {
    const venue = parseVenue(value, `venues[${index}]`, problems);
    if (venue !== null) {
      if (venues.has(venue.id)) {
        problems.push(`venues[${index}].id repeats the venue id ${JSON.stringify(venue.id)}`);
      }
      venues.set(venue.id, venue);
    }
  });
  if (venues.size === 0 && problems.length === 0) {
    problems.push("venues must list at least one venue");
  }
  const templates: EventTemplate[] = [];
  const ids = new Set<string>();
  document.events.forEach((value, index) => {
    const template = parseTemplate(value, `events[${index}]`, venues, problems);
    const id = isObject(value) ? value.id : undefined;
    if (typeof id === "string") {
      if (ids.has(id)) {
        problems.push(`events[${index}].id repeats the event id ${JSON.stringify(id)}`);
      }
      ids.add(id);
    }
    if (template !== null) {
      templates.push(template);
    }
  });
  if (problems.length > 0) {
    throw new EventsFileError(source, problems);
  }
  return { venues: [...venues.values()], templates };
}

function occurrence(template: EventTemplate, date: LocalDate, id: string): Entry {
  const zone = template.venue.timezone;
  let start: number;
  let end: number | null;
  if (template.startMinutes === null) {
    start = zonedInstant(date, 0, zone);
    end = zonedInstant(addDays(date, template.days), 0, zone);
  } else {
    start = zonedInstant(date, template.startMinutes, zone);
    end = template.durationMinutes === null ? null : start + template.durationMinutes * 60_000;
  }
  const { details } = template;
  const event: Event = {
    id,
    venue_id: template.venue.id,
    title: details.title,
    start: formatInZone(start, zone),
    end: end === null ? null : formatInZone(end, zone),
    all_day: template.startMinutes === null,
    timezone: zone,
    status: details.status,
    url: details.url,
    description: details.description,
    image_url: details.image_url,
    ticket_url: details.ticket_url,
    categories: details.categories,
    performers: details.performers,
    updated_at: details.updated_at,
  };
  return { key: { start, id }, end, event };
}

/** True while an event is not over: it ends at or after `now` (without an end: starts then). */
function notOver(entry: Entry, now: number): boolean {
  return (entry.end ?? entry.key.start) >= now;
}

function occurrences(template: EventTemplate, now: number): Entry[] {
  const { when } = template;
  if (when.kind === "once") {
    return [occurrence(template, when.date, template.id)];
  }
  const found: Entry[] = [];
  const today = localDateAt(now, template.venue.timezone);
  const take = (date: LocalDate): void => {
    const entry = occurrence(template, date, `${template.id}/${formatDate(date)}`);
    if (notOver(entry, now)) {
      found.push(entry);
    }
  };
  if (when.kind === "weekly") {
    // From a week back, so an occurrence that started days ago and goes on is kept.
    const first = addDays(today, -8);
    for (let offset = 0; found.length < when.count && offset <= when.count * 7 + 16; offset++) {
      const date = addDays(first, offset);
      if (weekday(date) === when.weekday) {
        take(date);
      }
    }
  } else {
    // 29 February comes back at most eight years later.
    for (
      let year = today.year - 1;
      found.length < when.count && year <= today.year + when.count * 8 + 8;
      year++
    ) {
      if (isValidDate(year, when.month, when.day)) {
        take({ year, month: when.month, day: when.day });
      }
    }
  }
  return found;
}

/**
 * Every event the catalog stands for at `now`, in listing order (start, then id): each one-off
 * event, and the next `count` occurrences of each repeating one that are not over yet.
 */
export function eventsAt(catalog: Catalog, now: number): Entry[] {
  return catalog.templates
    .flatMap((template) => occurrences(template, now))
    .sort((a, b) => compareKeys(a.key, b.key));
}

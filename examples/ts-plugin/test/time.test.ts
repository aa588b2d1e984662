import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  addDays,
  formatInZone,
  formatUtc,
  isValidTimeZone,
  localDateAt,
  parseDateTime,
  weekday,
  zonedInstant,
} from "../src/time.js";

describe("parseDateTime", () => {
  it("reads RFC 3339 date-times with an offset", () => {
    const cases: [string, string][] = [
      ["2027-01-08T20:00:00Z", "2027-01-08T20:00:00.000Z"],
      ["2027-01-08t20:00:00z", "2027-01-08T20:00:00.000Z"],
      ["2027-01-08T20:00:00+01:00", "2027-01-08T19:00:00.000Z"],
      ["2027-01-08T20:00:00-05:30", "2027-01-09T01:30:00.000Z"],
      ["2027-01-08T20:00:00.5+00:00", "2027-01-08T20:00:00.500Z"],
      ["2027-01-08T20:00:00.123456789Z", "2027-01-08T20:00:00.123Z"],
      ["2028-02-29T00:00:00Z", "2028-02-29T00:00:00.000Z"],
      ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"],
    ];
    for (const [text, iso] of cases) {
      const parsed = parseDateTime(text);
      assert.ok(parsed.ok, text);
      assert.equal(new Date(parsed.instant).toISOString(), iso, text);
    }
  });

  it("says why it refuses the rest", () => {
    const cases: [string, RegExp][] = [
      ["2027-01-08T20:00:00", /no UTC offset/],
      ["2027-01-08T20:00:00 01:00", /%2B/],
      ["2027-01-08", /not an RFC 3339/],
      ["2027-01-08 20:00:00Z", /not an RFC 3339/],
      ["20270108T200000Z", /not an RFC 3339/],
      ["2027-02-29T00:00:00Z", /not a valid/],
      ["2027-13-01T00:00:00Z", /not a valid/],
      ["2027-01-08T24:00:00Z", /not a valid/],
      ["2027-01-08T20:60:00Z", /not a valid/],
      ["2027-01-08T20:00:00+24:00", /not a valid/],
      ["0000-01-01T00:00:00Z", /not a valid/],
      ["tomorrow", /not an RFC 3339/],
    ];
    for (const [text, reason] of cases) {
      const parsed = parseDateTime(text);
      assert.ok(!parsed.ok, text);
      assert.match(parsed.reason, reason, text);
    }
  });
});

describe("time zones", () => {
  it("knows IANA names", () => {
    assert.ok(isValidTimeZone("Europe/Berlin"));
    assert.ok(isValidTimeZone("UTC"));
    assert.ok(!isValidTimeZone("Mars/Olympus_Mons"));
    assert.ok(!isValidTimeZone(""));
  });

  it("formats instants in a zone with its offset, across DST", () => {
    const winter = Date.parse("2027-01-08T19:00:00Z");
    const summer = Date.parse("2027-07-08T18:00:00Z");
    assert.equal(formatInZone(winter, "Europe/Berlin"), "2027-01-08T20:00:00+01:00");
    assert.equal(formatInZone(summer, "Europe/Berlin"), "2027-07-08T20:00:00+02:00");
    assert.equal(formatInZone(winter, "America/Chicago"), "2027-01-08T13:00:00-06:00");
    assert.equal(formatInZone(summer, "Asia/Kolkata"), "2027-07-08T23:30:00+05:30");
    assert.equal(formatUtc(winter), "2027-01-08T19:00:00+00:00");
    assert.equal(formatUtc(winter + 7), "2027-01-08T19:00:00.007+00:00");
  });

  it("places wall times, choosing the first of a repeated hour and skipping a missing one", () => {
    const place = (date: string, minutes: number, zone: string): string => {
      const [year, month, day] = date.split("-").map(Number) as [number, number, number];
      return formatInZone(zonedInstant({ year, month, day }, minutes, zone), zone);
    };
    assert.equal(place("2027-03-27", 20 * 60, "Europe/Berlin"), "2027-03-27T20:00:00+01:00");
    assert.equal(place("2027-03-28", 20 * 60, "Europe/Berlin"), "2027-03-28T20:00:00+02:00");
    // 02:30 does not exist on 28 March 2027 in Berlin: it is read as 03:30 summer time.
    assert.equal(place("2027-03-28", 150, "Europe/Berlin"), "2027-03-28T03:30:00+02:00");
    // 02:30 happens twice on 31 October 2027: the first, still summer time.
    assert.equal(place("2027-10-31", 150, "Europe/Berlin"), "2027-10-31T02:30:00+02:00");
    assert.equal(place("2027-11-07", 0, "America/Chicago"), "2027-11-07T00:00:00-05:00");
    assert.equal(place("2027-11-08", 0, "America/Chicago"), "2027-11-08T00:00:00-06:00");
  });

  it("does calendar arithmetic on local dates", () => {
    assert.deepEqual(addDays({ year: 2027, month: 12, day: 31 }, 1), {
      year: 2028,
      month: 1,
      day: 1,
    });
    assert.deepEqual(addDays({ year: 2028, month: 3, day: 1 }, -1), {
      year: 2028,
      month: 2,
      day: 29,
    });
    assert.equal(weekday({ year: 2027, month: 1, day: 7 }), 4); // a Thursday
    // 23:30 UTC on 8 January is already the 9th in Berlin and still the 8th in Chicago.
    const late = Date.parse("2027-01-08T23:30:00Z");
    assert.deepEqual(localDateAt(late, "Europe/Berlin"), { year: 2027, month: 1, day: 9 });
    assert.deepEqual(localDateAt(late, "America/Chicago"), { year: 2027, month: 1, day: 8 });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { compareKeys, CursorError, decodeCursor, encodeCursor } from "../src/cursor.js";
import { at } from "./helpers.js";

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64url");

describe("cursors", () => {
  it("round-trip the sort key", () => {
    for (const key of [
      { start: at("2027-01-08T20:00:00+01:00"), id: "thursday-jazz/2027-01-08" },
      { start: at("1999-12-31T23:59:59.123Z"), id: 'ünïcødé ✓ "quoted" / slashed' },
      { start: at("9999-12-31T23:59:59Z"), id: "x" },
    ]) {
      assert.deepEqual(decodeCursor(encodeCursor(key)), key);
    }
  });

  it("are base64url without padding, of the last event's start (UTC) and id", () => {
    const cursor = encodeCursor({ start: at("2027-01-08T20:00:00+01:00"), id: "a/b" });
    assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")), {
      s: "2027-01-08T19:00:00+00:00",
      i: "a/b",
    });
  });

  it("reject what this plugin did not issue", () => {
    const bad = [
      "",
      "abc",
      "!!!!",
      "eyJzIjoi=",
      `${b64('{"s":"2027-01-08T19:00:00+00:00","i":"a"}')}=`,
      b64("not json"),
      b64("[1,2]"),
      b64("null"),
      b64('{"s":"2027-01-08T19:00:00+00:00"}'),
      b64('{"s":"2027-01-08T19:00:00+00:00","i":"a","x":1}'),
      b64('{"s":"2027-01-08T19:00:00","i":"a"}'),
      b64('{"s":"2027-02-30T19:00:00Z","i":"a"}'),
      b64('{"s":"2027-01-08T19:00:00Z","i":""}'),
      b64('{"s":12,"i":"a"}'),
      Buffer.from([0xff, 0xfe, 0x7b]).toString("base64url"),
    ];
    for (const cursor of bad) {
      assert.throws(() => decodeCursor(cursor), CursorError, `accepted ${JSON.stringify(cursor)}`);
    }
  });

  it("order by start, then id", () => {
    const early = { start: 1000, id: "z" };
    const late = { start: 2000, id: "a" };
    assert.equal(compareKeys(early, late), -1);
    assert.equal(compareKeys(late, early), 1);
    assert.equal(compareKeys({ start: 1000, id: "a" }, { start: 1000, id: "b" }), -1);
    assert.equal(compareKeys(early, { ...early }), 0);
  });
});

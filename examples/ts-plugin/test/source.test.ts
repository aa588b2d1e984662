import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { EventsFileError } from "../src/catalog.js";
import { EventsFile } from "../src/source.js";
import { SAMPLE_FILE } from "./helpers.js";

describe("the events file on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "events-file-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses to start from an invalid file", async () => {
    const path = join(dir, "invalid.json");
    writeFileSync(path, '{"venues": [], "events": []}');
    await assert.rejects(EventsFile.open(path), EventsFileError);
    await assert.rejects(EventsFile.open(join(dir, "missing.json")), /ENOENT/);
  });

  it("re-reads a changed file, and keeps the last good copy when the change is bad", async (context) => {
    context.mock.method(console, "log", () => undefined);
    context.mock.method(console, "error", () => undefined);
    const path = join(dir, "events.json");
    copyFileSync(SAMPLE_FILE, path);
    const file = await EventsFile.open(path);
    assert.equal((await file.catalog()).templates.length, 10);
    assert.equal((await file.health()).status, "ok");

    const document = JSON.parse(readFileSync(SAMPLE_FILE, "utf8")) as { events: unknown[] };
    document.events = document.events.slice(0, 4);
    writeFileSync(path, JSON.stringify(document));
    utimesSync(path, new Date(), new Date(Date.now() + 5000)); // a distinct mtime, whatever the clock
    assert.equal((await file.catalog()).templates.length, 4);

    writeFileSync(path, "{ broken");
    utimesSync(path, new Date(), new Date(Date.now() + 10000));
    assert.equal((await file.catalog()).templates.length, 4);
    const health = await file.health();
    assert.equal(health.status, "degraded");
    assert.match(health.detail ?? "", /cannot be re-read \(is not JSON/);

    rmSync(path);
    assert.equal((await file.catalog()).templates.length, 4);
    assert.equal((await file.health()).status, "degraded");

    writeFileSync(path, JSON.stringify(document));
    assert.equal((await file.catalog()).templates.length, 4);
    assert.equal((await file.health()).status, "ok");
  });
});

import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import { type AppOptions, createHandler } from "../src/app.js";
import type { Catalog } from "../src/catalog.js";
import type { EventsPage, Manifest, Problem } from "../src/contract.js";
import { at, sampleCatalog } from "./helpers.js";

const NOW = at("2027-03-20T12:00:00Z");
const TOKEN = "s3cret-token";

async function serve(options: Partial<AppOptions> = {}): Promise<{ server: Server; url: string }> {
  const catalog: Catalog = sampleCatalog();
  const server = createServer(
    createHandler({
      source: {
        catalog: async () => catalog,
        health: async () => ({ status: "ok", detail: "fine" }),
      },
      pluginId: "json-events",
      version: "9.9.9",
      maxPageSize: 7,
      refreshIntervalSeconds: 3600,
      token: null,
      clock: () => NOW,
      ...options,
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function problemOf(response: Response, status: number): Promise<Problem> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get("content-type"), "application/problem+json");
  const body = (await response.json()) as Problem;
  assert.equal(body.status, status);
  assert.equal(typeof body.title, "string");
  assert.equal(typeof body.detail, "string");
  return body;
}

describe("the HTTP service", () => {
  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve()));
  after(() => server.close());

  it("describes itself in the manifest", async () => {
    const response = await fetch(`${url}/v1/manifest`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "application/json");
    const manifest = (await response.json()) as Manifest;
    assert.equal(manifest.plugin_id, "json-events");
    assert.equal(manifest.contract_version, "1.1");
    assert.deepEqual(manifest.contract_versions, { min: "1.0", max: "1.1" });
    assert.equal(manifest.max_page_size, 7);
    assert.deepEqual(
      manifest.venues.map((venue) => venue.id),
      ["kestrel-hall", "marigold-stage"],
    );
  });

  it("reports health", async () => {
    const response = await fetch(`${url}/v1/health`);
    assert.deepEqual(await response.json(), { status: "ok", detail: "fine" });
  });

  it("caps limit at max_page_size and walks the pages", async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? "limit=500" : `limit=500&cursor=${cursor}`;
      const response = await fetch(`${url}/v1/events?${query}`);
      assert.equal(response.status, 200);
      assert.equal(
        response.headers.has("etag"),
        cursor === null,
        "only the first page has an ETag",
      );
      const page = (await response.json()) as EventsPage;
      assert.ok(page.events.length <= 7);
      ids.push(...page.events.map((event) => event.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.equal(ids.length, 20);
    assert.equal(new Set(ids).size, 20);
  });

  it("uses the contract's default limit and accepts huge ones", async () => {
    const page = (await (
      await fetch(`${url}/v1/events?limit=99999999999999999999`)
    ).json()) as EventsPage;
    assert.equal(page.events.length, 7);
  });

  it("filters by venue and window", async () => {
    const query = new URLSearchParams({
      venue_id: "kestrel-hall",
      from: "2027-03-25T00:00:00+01:00",
      to: "2027-04-01T00:00:00Z",
    });
    const page = (await (await fetch(`${url}/v1/events?${query}`)).json()) as EventsPage;
    assert.deepEqual(
      page.events.map((event) => event.id),
      ["thursday-jazz/2027-03-25", "sunday-matinee/2027-03-28"],
    );
  });

  it("answers 304 to a matching If-None-Match on the first page", async () => {
    const first = await fetch(`${url}/v1/events`);
    const tag = first.headers.get("etag");
    assert.ok(tag !== null && tag.startsWith('"'));
    const again = await fetch(`${url}/v1/events`, { headers: { "If-None-Match": tag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("etag"), tag);
    assert.equal(await again.text(), "");
    const other = await fetch(`${url}/v1/events?venue_id=kestrel-hall`, {
      headers: { "If-None-Match": tag },
    });
    assert.equal(other.status, 200);
    const stale = await fetch(`${url}/v1/events`, { headers: { "If-None-Match": '"stale"' } });
    assert.equal(stale.status, 200);
  });

  it("answers malformed requests with 400 problems", async () => {
    for (const [query, detail] of [
      ["cursor=bogus", /cursor is not one this plugin issued/],
      ["from=2027-01-01T00:00:00", /`from` has no UTC offset/],
      ["to=2027-01-01", /`to` is not an RFC 3339 date-time/],
      ["from=2027-01-01T00:00:00+01:00", /%2B/],
      ["limit=0", /`limit` must be a whole number/],
      ["limit=ten", /`limit` must be a whole number/],
      ["limit=1&limit=2", /given more than once/],
      ["venue_id=", /`venue_id` must have 1 to 200 characters/],
      [`cursor=${"a".repeat(2001)}`, /`cursor` must have 1 to 2000 characters/],
    ] as const) {
      const body = await problemOf(await fetch(`${url}/v1/events?${query}`), 400);
      assert.match(body.detail ?? "", detail, query);
      assert.equal(body.instance, "/v1/events");
    }
  });

  it("answers unknown venues and paths with 404 problems", async () => {
    assert.match(
      (await problemOf(await fetch(`${url}/v1/events?venue_id=nowhere`), 404)).detail ?? "",
      /nowhere/,
    );
    await problemOf(await fetch(`${url}/v1/nothing`), 404);
    await problemOf(await fetch(`${url}/`), 404);
    await problemOf(await fetch(`${url}/v1/events/`), 404);
  });

  it("answers other methods with 405, and HEAD like GET without a body", async () => {
    const response = await fetch(`${url}/v1/events`, { method: "POST" });
    await problemOf(response, 405);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    const head = await fetch(`${url}/v1/manifest`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });
});

describe("the HTTP service with a token", () => {
  let server: Server;
  let url: string;
  before(async () => ({ server, url } = await serve({ token: TOKEN })));
  after(() => server.close());

  it("answers requests without the token with 401 and a Bearer challenge", async () => {
    for (const path of ["/v1/manifest", "/v1/health", "/v1/events", "/v1/unknown"]) {
      const response = await fetch(`${url}${path}`);
      const body = await problemOf(response, 401);
      assert.equal(response.headers.get("www-authenticate"), "Bearer");
      assert.match(body.detail ?? "", /bearer token is required/);
    }
  });

  it("answers a wrong token with 401", async () => {
    for (const authorization of [
      `Bearer ${TOKEN}x`,
      "Bearer",
      `Basic ${TOKEN}`,
      `Bearer  ${TOKEN.slice(1)}`,
    ]) {
      const response = await fetch(`${url}/v1/events`, {
        headers: { Authorization: authorization },
      });
      await problemOf(response, 401);
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
    }
  });

  it("serves requests with the token", async () => {
    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      const response = await fetch(`${url}/v1/events`, {
        headers: { Authorization: authorization },
      });
      assert.equal(response.status, 200);
    }
  });
});

describe("the HTTP service when something breaks", () => {
  it("answers 500 with a problem and logs the error", async (context) => {
    const errors = context.mock.method(console, "error", () => undefined);
    const { server, url } = await serve({
      source: {
        catalog: async () => {
          throw new Error("disk on fire");
        },
        health: async () => ({ status: "down" }),
      },
    });
    try {
      const body = await problemOf(await fetch(`${url}/v1/events`), 500);
      assert.match(body.detail ?? "", /its log says why/);
      assert.equal(errors.mock.callCount(), 1);
    } finally {
      server.close();
    }
  });
});

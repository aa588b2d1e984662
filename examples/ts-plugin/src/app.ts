// The HTTP service: the plugin contract's three /v1 routes, on Node's own http module.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

import { type Catalog, eventsAt } from "./catalog.js";
import {
  CONTRACT_VERSION,
  CONTRACT_VERSIONS,
  DEFAULT_LIMIT,
  type Health,
  type ListEventsQuery,
  type Manifest,
} from "./contract.js";
import { CursorError, decodeCursor } from "./cursor.js";
import { type Filters, ifNoneMatchHits, pageOf, snapshotTag } from "./listing.js";
import { ProblemError, sendProblem } from "./problems.js";
import { parseDateTime } from "./time.js";

export const PLUGIN_NAME = "JSON events file";

/** Where the events come from: the events file, or anything else that gives a catalog. */
export interface CatalogSource {
  catalog(): Promise<Catalog>;
  health(): Promise<Health>;
}

export interface AppOptions {
  source: CatalogSource;
  pluginId: string;
  version: string;
  maxPageSize: number;
  refreshIntervalSeconds: number;
  /** The bearer token every /v1 request must carry; null for none. */
  token: string | null;
  /** The current instant in epoch milliseconds (tests fix it). */
  clock?: () => number;
  /** Where to write one line per request; nowhere when omitted. */
  log?: (line: string) => void;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Handler = (request: IncomingMessage, query: URLSearchParams) => Promise<Reply>;

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** A 401 problem unless the request carries the bearer token (compared in constant time). */
function checkToken(request: IncomingMessage, expected: Buffer): void {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === "") {
    throw new ProblemError(401, "a bearer token is required", { "WWW-Authenticate": "Bearer" });
  }
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (match === null || !timingSafeEqual(digest(match[1] as string), expected)) {
    throw new ProblemError(401, "the bearer token is not valid", {
      "WWW-Authenticate": 'Bearer error="invalid_token"',
    });
  }
}

/** The one value of a query parameter; a 400 problem if it is given more than once. */
function single(query: URLSearchParams, name: string): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) {
    throw new ProblemError(400, `\`${name}\` is given more than once`);
  }
  return values[0];
}

/** The listEvents query parameters, checked against the contract's constraints. */
function readQuery(query: URLSearchParams): ListEventsQuery {
  const read: ListEventsQuery = {};
  for (const name of ["venue_id", "from", "to", "cursor"] as const) {
    const value = single(query, name);
    if (value === undefined) {
      continue;
    }
    const max = name === "venue_id" ? 200 : 2000;
    if (value.length === 0 || value.length > max) {
      throw new ProblemError(400, `\`${name}\` must have 1 to ${max} characters`);
    }
    read[name] = value;
  }
  const limit = single(query, "limit");
  if (limit !== undefined) {
    // Any larger value is treated as max_page_size, as the contract says.
    const value = /^\d{1,50}$/.test(limit) ? Number(limit) : 0;
    if (value < 1) {
      throw new ProblemError(
        400,
        `\`limit\` must be a whole number of at least 1, not ${JSON.stringify(limit)}`,
      );
    }
    read.limit = value;
  }
  return read;
}

function instant(name: string, text: string | undefined): number | null {
  if (text === undefined) {
    return null;
  }
  const parsed = parseDateTime(text);
  if (!parsed.ok) {
    throw new ProblemError(400, `\`${name}\` ${parsed.reason}: ${JSON.stringify(text)}`);
  }
  return parsed.instant;
}

/** The request handler for `http.createServer`. */
export function createHandler(
  options: AppOptions,
): (request: IncomingMessage, response: ServerResponse) => void {
  const clock = options.clock ?? Date.now;
  const expectedToken = options.token === null ? null : digest(options.token);

  const manifest = async (): Promise<Reply> => {
    const { venues } = await options.source.catalog();
    const body: Manifest = {
      plugin_id: options.pluginId,
      name: PLUGIN_NAME,
      version: options.version,
      contract_version: CONTRACT_VERSION,
      contract_versions: CONTRACT_VERSIONS,
      venues,
      refresh_interval_seconds: options.refreshIntervalSeconds,
      max_page_size: options.maxPageSize,
      capabilities: [],
    };
    return { status: 200, body };
  };

  const health = async (): Promise<Reply> => ({ status: 200, body: await options.source.health() });

  const events: Handler = async (request, query) => {
    const read = readQuery(query);
    const filters: Filters = {
      venueId: read.venue_id ?? null,
      from: instant("from", read.from),
      to: instant("to", read.to),
    };
    let after = null;
    if (read.cursor !== undefined) {
      try {
        after = decodeCursor(read.cursor);
      } catch (error) {
        if (error instanceof CursorError) {
          throw new ProblemError(400, error.message);
        }
        throw error;
      }
    }
    const catalog = await options.source.catalog();
    if (filters.venueId !== null && !catalog.venues.some((venue) => venue.id === filters.venueId)) {
      throw new ProblemError(404, `no venue has the id ${JSON.stringify(filters.venueId)}`);
    }
    const entries = eventsAt(catalog, clock());
    const limit = Math.min(read.limit ?? DEFAULT_LIMIT, options.maxPageSize);
    if (after !== null) {
      return { status: 200, body: pageOf(entries, filters, after, limit) };
    }
    // The first page of a walk carries the tag of the walk's whole snapshot.
    const tag = snapshotTag(entries, filters);
    if (ifNoneMatchHits(request.headers["if-none-match"], tag)) {
      return { status: 304, headers: { ETag: tag } };
    }
    return { status: 200, body: pageOf(entries, filters, null, limit), headers: { ETag: tag } };
  };

  const routes = new Map<string, Handler>([
    ["/v1/manifest", manifest],
    ["/v1/health", health],
    ["/v1/events", events],
  ]);

  const respond = async (
    request: IncomingMessage,
    path: string,
    query: URLSearchParams,
  ): Promise<Reply> => {
    if (expectedToken !== null && (path === "/v1" || path.startsWith("/v1/"))) {
      checkToken(request, expectedToken);
    }
    const handler = routes.get(path);
    if (handler === undefined) {
      throw new ProblemError(404, `no resource at ${path}`);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      throw new ProblemError(405, `${path} answers GET only`, { Allow: "GET, HEAD" });
    }
    return handler(request, query);
  };

  return (request, response) => {
    const started = performance.now();
    const target = request.url ?? "/";
    const mark = target.indexOf("?");
    const path = mark < 0 ? target : target.slice(0, mark);
    const query = new URLSearchParams(mark < 0 ? "" : target.slice(mark + 1));
    response.on("finish", () => {
      const elapsed = (performance.now() - started).toFixed(1);
      options.log?.(`${request.method} ${path} ${response.statusCode} ${elapsed}ms`);
    });
    respond(request, path, query).then(
      (reply) => {
        if (reply.body === undefined) {
          response.writeHead(reply.status, reply.headers);
          response.end();
          return;
        }
        const body = JSON.stringify(reply.body);
        response.writeHead(reply.status, {
          ...reply.headers,
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
        });
        response.end(body);
      },
      (error: unknown) => {
        if (!(error instanceof ProblemError)) {
          console.error(`unexpected error answering ${request.method} ${path}:`, error);
          error = new ProblemError(500, "the plugin failed; its log says why");
        }
        sendProblem(response, error as ProblemError, path);
      },
    );
  };
}

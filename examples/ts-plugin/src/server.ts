// Entry point: `node dist/server.js`. Reads the settings and the events file, then serves.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { createHandler } from "./app.js";
import { EventsFileError } from "./catalog.js";
import { ConfigError, loadConfig } from "./config.js";
import { EventsFile } from "./source.js";

/** Requests in flight get this long to finish after SIGTERM or SIGINT. */
const SHUTDOWN_GRACE_MS = 10_000;

function packageVersion(): string {
  const path = new URL("../package.json", import.meta.url);
  const { version } = JSON.parse(readFileSync(path, "utf8")) as { version?: unknown };
  return typeof version === "string" && version !== "" ? version : "0.0.0";
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      fail(`invalid settings:\n${error.message}`);
    }
    throw error;
  }
  let source;
  try {
    source = await EventsFile.open(config.eventsFile);
  } catch (error) {
    if (error instanceof EventsFileError) {
      fail(`EVENTS_FILE: ${error.message}`);
    }
    fail(`EVENTS_FILE: cannot read ${config.eventsFile}: ${(error as Error).message}`);
  }

  const server = createServer(
    createHandler({
      source,
      pluginId: config.pluginId,
      version: packageVersion(),
      maxPageSize: config.maxPageSize,
      refreshIntervalSeconds: config.refreshIntervalSeconds,
      token: config.token,
      log: (line) => console.log(line),
    }),
  );
  server.on("error", (error) => {
    console.error(`cannot serve on ${config.host}:${config.port}: ${error.message}`);
    process.exit(1);
  });
  server.listen(config.port, config.host, () => {
    const { port } = server.address() as AddressInfo;
    const auth = config.token === null ? "no token required" : "bearer token required";
    console.log(
      `plugin ${config.pluginId} listening on http://${config.host}:${port} ` +
        `(${source.summary()} from ${config.eventsFile}; ${auth})`,
    );
  });

  const stop = (signal: string): void => {
    console.log(`${signal}: stopping`);
    server.close(() => {
      console.log("stopped");
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

await main();

// Settings, from environment variables only. A malformed value stops start-up naming it.
import { fileURLToPath } from "node:url";

import { MAX_PAGE_SIZE_LIMIT } from "./contract.js";

export interface Config {
  host: string;
  port: number;
  eventsFile: string;
  /** The bearer token every /v1 request must carry; null when none is required. */
  token: string | null;
  pluginId: string;
  maxPageSize: number;
  refreshIntervalSeconds: number;
}

/** One or more variables are malformed; `problems` names each. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

/** The bundled sample, beside `dist/` (or `src/`) in the package. */
export const DEFAULT_EVENTS_FILE = fileURLToPath(new URL("../data/events.json", import.meta.url));

const PLUGIN_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

type Env = Record<string, string | undefined>;

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const text = env[name]?.trim();
  if (text === undefined || text === "") {
    return fallback;
  }
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    problems.push(
      `${name}: must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`,
    );
    return fallback;
  }
  return value;
}

/** The settings the environment gives; throws ConfigError naming every malformed variable. */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const pluginId = env.PLUGIN_ID?.trim() || "json-events";
  if (pluginId.length > 64 || !PLUGIN_ID.test(pluginId)) {
    problems.push(
      `PLUGIN_ID: must be a lowercase slug such as json-events, not ${JSON.stringify(pluginId)}`,
    );
  }
  const config: Config = {
    host: env.HOST?.trim() || "127.0.0.1",
    port: integer(env, "PORT", 8082, 0, 65535, problems),
    eventsFile: env.EVENTS_FILE?.trim() || DEFAULT_EVENTS_FILE,
    // An empty PLUGIN_TOKEN means none, as when it is unset.
    token: env.PLUGIN_TOKEN?.trim() || null,
    pluginId,
    maxPageSize: integer(env, "MAX_PAGE_SIZE", 100, 1, MAX_PAGE_SIZE_LIMIT, problems),
    refreshIntervalSeconds: integer(env, "REFRESH_INTERVAL_SECONDS", 3600, 60, 604800, problems),
  };
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return config;
}

// Container health probe: `node dist/healthcheck.js` exits 0 when GET /v1/health answers 200.
import { loadConfig } from "./config.js";

const PROBE_TIMEOUT_MS = 2000;

function healthUrl(host: string, port: number): string {
  // A service bound to every interface is reached over loopback.
  if (host === "0.0.0.0" || host === "::" || host === "") {
    host = "127.0.0.1";
  } else if (host.includes(":")) {
    host = `[${host}]`;
  }
  return `http://${host}:${port}/v1/health`;
}

async function probe(): Promise<number> {
  const config = loadConfig(process.env);
  // The probe is a client like any other: with a token configured, it must send it.
  const headers: Record<string, string> =
    config.token === null ? {} : { Authorization: `Bearer ${config.token}` };
  try {
    const response = await fetch(healthUrl(config.host, config.port), {
      headers,
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return response.status === 200 ? 0 : 1;
  } catch {
    return 1;
  }
}

process.exitCode = await probe();

// RFC 9457 problem documents: the body of every error response.
import type { ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";

import type { Problem } from "./contract.js";

export const PROBLEM_JSON = "application/problem+json";

/** Thrown by a handler to answer with a problem document. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
    readonly type = "about:blank",
  ) {
    super(detail);
    this.name = "ProblemError";
  }
}

/** The problem document for `status`, titled with the status's standard phrase. */
export function problem(
  status: number,
  detail: string,
  instance: string,
  type = "about:blank",
): Problem {
  return { type, title: STATUS_CODES[status] ?? "Error", status, detail, instance };
}

/** Sends a problem+json response. */
export function sendProblem(response: ServerResponse, error: ProblemError, instance: string): void {
  const body = JSON.stringify(problem(error.status, error.detail, instance, error.type));
  response.writeHead(error.status, {
    ...error.headers,
    "Content-Type": PROBLEM_JSON,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  response.end(body);
}

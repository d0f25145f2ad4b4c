/**
 * @module errors
 * Named API errors with a stable `code`, turned into one JSON shape,
 * `{error: {code, message, path?}}`, with the right status. Anything else that
 * escapes a handler is a bug and becomes a 500 with a generic message.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly path?: string,
    /** Response headers the error carries, such as a WWW-Authenticate challenge. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string; path?: string };
}

export function errorResponse(c: Context, error: Error): Response {
  if (error instanceof ApiError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.path !== undefined) body.error.path = error.path;
    return c.json(body, error.status, error.headers);
  }
  if (error instanceof HTTPException) {
    const code = error.status === 413 ? "payload_too_large" : "http_error";
    return c.json({ error: { code, message: error.message || "request rejected" } }, error.status);
  }
  console.error("unhandled error", error);
  return c.json({ error: { code: "internal", message: "internal error" } }, 500);
}

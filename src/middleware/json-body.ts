/**
 * @module json-body
 * Guards for JSON endpoints: the content type must be JSON (415 otherwise) and
 * the body must fit a byte limit (413). A declared Content-Length is checked
 * up front (capped-text.ts), which costs nothing on the hot path; only a
 * body without one (chunked) goes through Hono's bodyLimit, which counts
 * bytes as they stream so an oversized body is cut off without being
 * buffered whole.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "../errors";
import { declaresTooLarge } from "../streams/capped-text";

export function jsonBody(maxBytes: number): MiddlewareHandler {
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new Error(`jsonBody: invalid maxBytes ${maxBytes}`);
  const tooLarge = () => new ApiError(413, "payload_too_large", `request body exceeds ${maxBytes} bytes`);
  const streamingLimit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (type.split(";")[0].trim().toLowerCase() !== "application/json") {
      throw new ApiError(415, "unsupported_media_type", `expected content-type application/json, got ${type || "none"}`);
    }
    if (c.req.header("content-length") === undefined) return streamingLimit(c, next);
    if (await declaresTooLarge(c.req.raw, maxBytes)) throw tooLarge();
    await next();
  };
}

/**
 * @module json-body
 * Guards for JSON endpoints: the content type must be JSON (415 otherwise) and
 * the body must fit a byte limit (413), checked with Hono's bodyLimit so an
 * oversized stream is cut off without being buffered whole.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { every } from "hono/combine";
import { ApiError } from "../errors";

export function requireJson(): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    const mediaType = type.split(";")[0].trim().toLowerCase();
    if (mediaType !== "application/json") {
      throw new ApiError(415, "unsupported_media_type", `expected content-type application/json, got ${type || "none"}`);
    }
    await next();
  };
}

export function jsonBody(maxBytes: number): MiddlewareHandler {
  if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new Error(`jsonBody: invalid maxBytes ${maxBytes}`);
  return every(
    requireJson(),
    bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `request body exceeds ${maxBytes} bytes`);
      },
    }),
  );
}

/**
 * @module error-response
 * Errors on the AuthZEN routes, in the spec's shape (AuthZEN 1.0 §10.1.2):
 * the status says what went wrong and the body is an error message string,
 * sent as text. Tollgate's stable error code travels beside it in the
 * `x-tollgate-error` header, and a 401 keeps its `WWW-Authenticate`
 * challenge (§11.3). A content type other than JSON is a Bad Request here,
 * as the AuthZEN 1.0 certification scenario expects (its test C.2.4.3), where the
 * rest of the edge answers 415. Anything that is not an ApiError is a bug
 * and becomes a 500 with a generic message.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ApiError } from "../errors";

export const ERROR_CODE_HEADER = "x-tollgate-error";

const STATUS_OF_CODE: Record<string, ContentfulStatusCode> = { unsupported_media_type: 400 };

export function authzenErrorResponse(error: Error, c: Context): Response {
  if (error instanceof ApiError) {
    const status = STATUS_OF_CODE[error.code] ?? error.status;
    return c.text(error.message, status, { ...error.headers, [ERROR_CODE_HEADER]: error.code });
  }
  if (error instanceof HTTPException) {
    return c.text(error.message || "request rejected", error.status, { [ERROR_CODE_HEADER]: error.status === 413 ? "payload_too_large" : "http_error" });
  }
  console.error("unhandled error", error);
  return c.text("internal error", 500, { [ERROR_CODE_HEADER]: "internal" });
}

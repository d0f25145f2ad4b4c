/**
 * @module request-id
 * AuthZEN 1.0 §10.1.3: when a request carries an identifier (`X-Request-ID`),
 * the response MUST carry the same one, errors included. This middleware
 * sits outside everything else on the AuthZEN routes, so it sees the final
 * response, whichever handler or error produced it.
 */
import type { MiddlewareHandler } from "hono";

export const REQUEST_ID_HEADER = "x-request-id";

export function echoRequestId(): MiddlewareHandler {
  return async (c, next) => {
    const id = c.req.header(REQUEST_ID_HEADER);
    await next();
    if (id !== undefined) c.res.headers.set(REQUEST_ID_HEADER, id);
  };
}

/**
 * @module agent-cors
 * CORS for the routes agents call, so an agent running in a browser page
 * (the SDK runs there too) can reach its edge. Agent credentials are bearer
 * tokens the caller sends explicitly, never cookies, so any origin may
 * call: a page without the credential gets nothing it could not get with
 * curl. The admin API and the console are not covered: they stay
 * same-origin.
 */
import { cors } from "hono/cors";

export const AGENT_ROUTES = ["/v1/decide", "/v1/policy/*", "/v1/approvals/*", "/v1/leases/*", "/v1/offline/*", "/v1/sessions/*", "/.well-known/*", "/access/v1/*"];

export const agentCors = () =>
  cors({
    origin: "*",
    allowMethods: ["GET", "POST"],
    allowHeaders: ["authorization", "content-type", "idempotency-key", "x-request-id", "if-none-match"],
    exposeHeaders: ["x-tollgate-decision-id", "x-request-id", "etag", "www-authenticate"],
    credentials: false,
    maxAge: 600,
  });

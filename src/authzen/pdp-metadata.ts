/**
 * @module pdp-metadata
 * `GET /.well-known/authzen-configuration`: the Policy Decision Point
 * metadata of AuthZEN 1.0 §9. The PDP's identifier is the origin the
 * metadata was fetched from, so it is identical to the URL the well-known
 * path was inserted into, as §9.2.3 requires of a document an enforcement
 * point may use. Only the endpoints this edge serves are listed: the
 * search endpoints are absent, which tells an enforcement point there are
 * none (§9.1.1), and no capabilities are registered (§9.1.2), so that
 * member is left out (§9.2.2: parameters without values are omitted). No
 * credential is needed to read it.
 */
import { Hono } from "hono";
import { authzenErrorResponse } from "./error-response";
import { echoRequestId } from "./request-id";

/** §11.9: metadata may be cached; what it says changes only with a deploy. */
const CACHE_CONTROL = "public, max-age=3600";

export function pdpMetadata(origin: string): Record<string, string> {
  return {
    policy_decision_point: origin,
    access_evaluation_endpoint: `${origin}/access/v1/evaluation`,
    access_evaluations_endpoint: `${origin}/access/v1/evaluations`,
  };
}

export const pdpMetadataRoute = new Hono<{ Bindings: Env }>()
  .use("*", echoRequestId())
  .get("/", (c) => c.json(pdpMetadata(new URL(c.req.url).origin), 200, { "cache-control": CACHE_CONTROL }))
  .onError(authzenErrorResponse);

/**
 * @module policy
 * `GET /v1/policy[?tenant=<t>]`: which policy this edge decides with right
 * now for a tenant (every layer's scope, digest, version and build time),
 * where it came from, and whether it is stale.
 */
import { Hono } from "hono";
import { BASELINE_POLICY } from "../bundles/active-policy";
import { BASELINE_MANIFEST } from "../bundles/baseline";
import { edgeStore } from "../bundles/edge-store";
import { engineFor } from "../decision/pipeline";
import { ApiError } from "../errors";
import { TENANT_ID_MESSAGE, TENANT_PATTERN } from "../schema/tenant-id";

export const policyRoute = new Hono<{ Bindings: Env }>().get("/", async (c) => {
  const tenant = c.req.query("tenant") ?? "";
  if (tenant && !TENANT_PATTERN.test(tenant)) throw new ApiError(400, "invalid_input", TENANT_ID_MESSAGE, "tenant");
  const now = Date.now();
  const store = edgeStore(c.env, now, (policy) => engineFor(c.env).warm(policy));
  if (store) await store.ensureLoaded(now);
  const resolution = store?.resolve(tenant, now) ?? { policy: BASELINE_POLICY, source: "baseline" as const, stale: false };
  const policy = resolution.policy;
  const top = policy.layers[policy.layers.length - 1];
  return c.json({
    key: policy.key,
    digest: top.digest,
    version: top.version,
    built_at: top.built_at,
    entrypoint: BASELINE_MANIFEST.entrypoint,
    opa_version: BASELINE_MANIFEST.opa_version,
    source: resolution.source,
    stale: resolution.stale,
    ...(resolution.unusable ? { unusable: resolution.unusable } : {}),
    layers: policy.layers,
  });
});

/**
 * @module policy
 * `GET /v1/policy`: which policy this edge decides with right now.
 */
import { Hono } from "hono";
import { BASELINE_POLICY } from "../bundles/active-policy";
import { BASELINE_MANIFEST } from "../bundles/baseline";

export const policyRoute = new Hono<{ Bindings: Env }>().get("/", (c) => {
  const policy = BASELINE_POLICY;
  const top = policy.layers[policy.layers.length - 1];
  return c.json({
    key: policy.key,
    digest: top.digest,
    version: top.version,
    built_at: top.built_at,
    entrypoint: BASELINE_MANIFEST.entrypoint,
    opa_version: BASELINE_MANIFEST.opa_version,
    source: policy.isBaseline ? "baseline" : "store",
    layers: policy.layers,
  });
});

/**
 * @module policy
 * `GET /v1/policy`: which policy this edge decides with right now for the
 * calling agent's tenant, in the region that governs its requests (every
 * layer's scope, digest, version and build time), where it came from, and
 * whether it is stale. Agents only see their own tenant's: `?tenant=` names
 * it, and another tenant's is 403.
 */
import { Hono } from "hono";
import { BASELINE_MANIFEST } from "../bundles/baseline";
import { governingPolicy } from "../decision/pipeline";
import { locationOf } from "../decision/region";
import { ApiError } from "../errors";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";

export const policyRoute = new Hono<AgentEnv>().get("/", agentAuth(), async (c) => {
  const identity = identityOf(c);
  const asked = c.req.query("tenant");
  if (asked !== undefined && asked !== identity.tenant) throw new ApiError(403, "forbidden", `the credential is of tenant ${identity.tenant}, not ${asked}`);
  const { region, resolution } = await governingPolicy(c.env, c.executionCtx, identity.tenant, locationOf(c.req.raw), Date.now());
  const policy = resolution.policy;
  const top = policy.layers[policy.layers.length - 1];
  return c.json({
    tenant: identity.tenant,
    region: region.region,
    region_source: region.source,
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

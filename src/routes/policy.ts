/**
 * @module policy
 * `GET /v1/policy`: which policy this edge decides with right now for the
 * calling agent's tenant, in the region that governs its requests (every
 * layer's scope, digest, version and build time), where it came from, and
 * whether it is stale. Agents only see their own tenant's: `?tenant=` names
 * it, and another tenant's is 403.
 *
 * `GET /v1/policy/bundle`: the same composition's signed layers exactly as
 * the store holds them (manifest and files, base64), so the agent's SDK can
 * verify them against the trust store and evaluate them itself when it
 * cannot reach an edge. Files are base64url, as `tollgate publish` uploads them. ETag is the policy key; `If-None-Match` gets 304.
 * An edge deciding with its compiled-in baseline has no signed layers to
 * give (409).
 */
import { Hono } from "hono";
import { BASELINE_MANIFEST } from "../bundles/baseline";
import { toBase64Url } from "../bundles/signature";
import { edgeStore } from "../bundles/edge-store";
import { engineFor, governingPolicy } from "../decision/pipeline";
import { governingRegions, locationOf } from "../decision/region";
import { ApiError } from "../errors";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";

export const policyRoute = new Hono<AgentEnv>()
  .get("/bundle", agentAuth(), async (c) => {
    const identity = identityOf(c);
    const now = Date.now();
    const { region, resolution } = await governingPolicy(c.env, c.executionCtx, identity.tenant, locationOf(c.req.raw), now);
    const layers = resolution.source === "store" ? edgeStore(c.env, now, (policy) => engineFor(c.env).warm(policy))?.signedLayers(identity.tenant, governingRegions(region)) : undefined;
    if (!layers) throw new ApiError(409, "no_signed_policy", "this edge decides with the policy compiled into its deploy, which has no signed layers to give");
    const etag = `"${resolution.policy.key}"`;
    c.header("etag", etag);
    c.header("cache-control", "private, no-cache");
    if (c.req.header("if-none-match") === etag) return c.body(null, 304);
    return c.json({
      tenant: identity.tenant,
      region: region.region,
      region_source: region.source,
      ...(region.located ? { located_region: region.located } : {}),
      key: resolution.policy.key,
      layers: layers.map((layer) => ({
        manifest: layer.signedManifest,
        files: Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, toBase64Url(bytes)])),
      })),
    });
  })
  .get("/", agentAuth(), async (c) => {
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
    ...(region.located ? { located_region: region.located } : {}),
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

/**
 * @module admin-params
 * Path and query parameters the admin routes share, checked once here so a
 * bad scope or tenant gets the same 400 from every route.
 */
import { SCOPE_PATTERN } from "../bundles/manifest";
import type { PublishContext } from "../bundles/publisher";
import { trustStoreFrom } from "../bundles/trust";
import { ApiError } from "../errors";
import { checkedBucket } from "./checked-store";
import { TENANT_ID_MESSAGE, TENANT_PATTERN } from "../schema/tenant-id";
import { snapshotWitness } from "../bundles/snapshot-witness-do";

export function scopeParam(scope: string): string {
  if (!SCOPE_PATTERN.test(scope)) throw new ApiError(400, "invalid_scope", `scope ${scope} is not global, region:<r> or tenant:<t>`);
  return scope;
}

/** A tenant id from a path segment or a query parameter (required either way). */
export function tenantParam(tenant: string | undefined): string {
  if (!tenant) throw new ApiError(400, "invalid_input", "tenant is required", "tenant");
  if (!TENANT_PATTERN.test(tenant)) throw new ApiError(400, "invalid_tenant", TENANT_ID_MESSAGE, "tenant");
  return tenant;
}

/**
 * The bundle store bucket; a deployment without one answers 503 rather than
 * failing later, and a stored object that is not JSON is 502 `store_corrupt`.
 */
export function bucketOf(env: Env): R2Bucket {
  if (!env.BUNDLES) throw new ApiError(503, "store_unavailable", "this deployment has no bundle store");
  return checkedBucket(env.BUNDLES);
}

/** The store's snapshot key, from the Worker's secrets; a deployment without one answers 503. */
function snapshotSigningKey(env: Env): { id: string; privateJwk: JsonWebKey } {
  try {
    if (!env.SNAPSHOT_KEY_ID) throw new Error("no key id");
    return { id: env.SNAPSHOT_KEY_ID, privateJwk: JSON.parse(env.SNAPSHOT_SIGNING_KEY) as JsonWebKey };
  } catch {
    throw new ApiError(503, "store_not_configured", "SNAPSHOT_KEY_ID and SNAPSHOT_SIGNING_KEY are not configured");
  }
}

/** What a publish (a layer, a rollout document, a shadow candidate) needs from the deployment, for `actor`, now. */
export function publishContext(env: Env, actor: string): PublishContext {
  const witness = snapshotWitness(env);
  return { bucket: bucketOf(env), trust: trustStoreFrom(env.TRUST_STORE), snapshotKey: snapshotSigningKey(env), actor, nowMs: Date.now(), ...(witness ? { witness } : {}) };
}

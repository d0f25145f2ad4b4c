/**
 * @module admin-bundles
 * The bundle store's admin API, used by `tollgate publish|status|rollback`:
 *
 *   PUT  /v1/admin/bundles/:scope            publish a signed layer (publisher of that scope)
 *   GET  /v1/admin/bundles                   the current snapshot and this edge's view of it
 *   GET  /v1/admin/bundles/:scope/:version   a published layer, as published (for rollback, verify)
 *   GET  /v1/admin/publish-log               who published, rolled back or was refused, when
 *   POST /v1/admin/refresh                   make this edge check the store now (operator)
 */
import { Hono } from "hono";
import { engineFor } from "../decision/pipeline";
import { edgeStore } from "../bundles/edge-store";
import { readLayer } from "../bundles/layer-reader";
import { publishLayer, readCurrentSnapshot, recordPublishEvent } from "../bundles/publisher";
import { toBase64Url } from "../bundles/signature";
import { trustStoreFrom } from "../bundles/trust";
import { BundleError } from "../bundles/verify";
import { ApiError } from "../errors";
import { bucketOf, scopeParam } from "./admin-params";
import { bundleFailure, readLayerUpload } from "./layer-upload";
import { adminAuth, principalOf, requireGrant, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";

/** A layer is at most 8 MiB; base64 in JSON adds a third. */
const MAX_PUBLISH_BODY_BYTES = 12 * 1024 * 1024;

function snapshotSigningKey(env: Env): { id: string; privateJwk: JsonWebKey } {
  try {
    if (!env.SNAPSHOT_KEY_ID) throw new Error("no key id");
    return { id: env.SNAPSHOT_KEY_ID, privateJwk: JSON.parse(env.SNAPSHOT_SIGNING_KEY) as JsonWebKey };
  } catch {
    throw new ApiError(503, "store_not_configured", "SNAPSHOT_KEY_ID and SNAPSHOT_SIGNING_KEY are not configured");
  }
}

export const adminBundlesRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .use(adminAuth())
  .put("/bundles/:scope", jsonBody(MAX_PUBLISH_BODY_BYTES), async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const principal = principalOf(c);
    try {
      requireGrant(principal, "publisher", scope);
    } catch (error) {
      await recordPublishEvent(bucketOf(c.env), principal.subject, scope, Date.now(), { outcome: "refused", code: "forbidden", reason: (error as Error).message });
      throw error;
    }
    const upload = await readLayerUpload(c);
    const result = await publishLayer(
      {
        bucket: bucketOf(c.env),
        trust: trustStoreFrom(c.env.TRUST_STORE),
        snapshotKey: snapshotSigningKey(c.env),
        actor: principal.subject,
        nowMs: Date.now(),
        note: upload.note,
      },
      scope,
      upload.manifest,
      upload.files,
    ).catch(bundleFailure);
    return c.json(result, 201);
  })
  .get("/bundles", async (c) => {
    const now = Date.now();
    const current = await readCurrentSnapshot(bucketOf(c.env), trustStoreFrom(c.env.TRUST_STORE)).catch(bundleFailure);
    const store = edgeStore(c.env, now, (policy) => engineFor(c.env).warm(policy));
    return c.json({ snapshot: current?.snapshot ?? null, edge: store?.status(now) ?? null });
  })
  .get("/bundles/:scope/:version", async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const version = Number(c.req.param("version"));
    if (!Number.isInteger(version) || version <= 0) throw new ApiError(400, "invalid_version", "version is a positive integer");
    const stored = await readLayer(bucketOf(c.env), scope, version).catch((error) => {
      if (error instanceof BundleError && error.code === "missing_file") throw new ApiError(404, "not_found", error.message);
      return bundleFailure(error);
    });
    const files = Object.fromEntries(Object.entries(stored.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    return c.json({ manifest: stored.signedManifest, files });
  })
  .get("/publish-log", async (c) => {
    const limit = Math.min(Number(c.req.query("limit") ?? 50) || 50, 500);
    const listed = await bucketOf(c.env).list({ prefix: "log/publish/" });
    const keys = listed.objects.map((o) => o.key).sort().reverse().slice(0, limit);
    const entries = await Promise.all(keys.map(async (key) => (await bucketOf(c.env).get(key))?.json()));
    return c.json({ entries });
  })
  .post("/refresh", async (c) => {
    requireGrant(principalOf(c), "operator", "global");
    const now = Date.now();
    const store = edgeStore(c.env, now, (policy) => engineFor(c.env).warm(policy));
    if (!store) throw new ApiError(503, "store_unavailable", "this deployment has no bundle store");
    await store.ensureLoaded(now);
    const outcome = await store.refresh(now);
    return c.json({ outcome, edge: store.status(now) });
  });

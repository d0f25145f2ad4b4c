/**
 * @module admin-bundles
 * The bundle store's admin API, used by `tollgate publish|status|rollback`:
 *
 *   PUT  /v1/admin/bundles/:scope            publish a signed layer (publisher of that scope)
 *   GET  /v1/admin/bundles                   the current snapshot and this edge's view of it, as far
 *                                            as the token's scopes reach (502 store_corrupt when the
 *                                            current snapshot does not parse or verify)
 *   GET  /v1/admin/bundles/:scope/:version   a published layer, as published (for rollback, verify)
 *   GET  /v1/admin/publish-log[?cursor=&limit=]   who published, rolled back or was refused, when:
 *                                            newest first, in pages, the token's scopes only
 *   POST /v1/admin/refresh                   make this edge check the store now (operator)
 *
 * Who may call each is in routes/admin-access.ts.
 */
import { Hono } from "hono";
import { queueAlert } from "../alerts/alert-batches";
import { alertEvent } from "../alerts/alert-event";
import { engineFor } from "../decision/pipeline";
import { edgeStore } from "../bundles/edge-store";
import { readLayer } from "../bundles/layer-reader";
import { publishLayer, readCurrentSnapshot, recordPublishEvent } from "../bundles/publisher";
import { PUBLISH_LOG_PREFIX, publishLogScope } from "../bundles/store-layout";
import { toBase64Url } from "../bundles/signature";
import { trustStoreFrom } from "../bundles/trust";
import { BundleError } from "../bundles/verify";
import { ApiError } from "../errors";
import { bucketOf, publishContext, scopeParam } from "./admin-params";
import { StoreCorruptError } from "./checked-store";
import { bundleFailure, readLayerUpload } from "./layer-upload";
import { canAccessScope, principalOf, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";

/** A layer is at most 8 MiB; base64 in JSON adds a third. */
const MAX_PUBLISH_BODY_BYTES = 12 * 1024 * 1024;


export const adminBundlesRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .put("/bundles/:scope", jsonBody(MAX_PUBLISH_BODY_BYTES), async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const principal = principalOf(c);
    const bucket = bucketOf(c.env);
    // The publisher records its own refusals; an upload it never gets to read, or a store
    // it cannot read, is refused here and recorded the same way.
    const refused = async (error: ApiError): Promise<never> => {
      await recordPublishEvent(bucket, principal.subject, scope, Date.now(), { outcome: "refused", code: error.code, reason: error.message });
      throw error;
    };
    const upload = await readLayerUpload(c).catch((error) => (error instanceof ApiError ? refused(error) : Promise.reject(error)));
    const result = await publishLayer(
      { ...publishContext(c.env, principal.subject), note: upload.note },
      scope,
      upload.manifest,
      upload.files,
    ).catch((error) => (error instanceof StoreCorruptError ? refused(error) : bundleFailure(error)));
    // A tenant's own layer is news to that tenant's alert webhooks (queued after the answer).
    if (scope.startsWith("tenant:")) {
      const tenant = scope.slice("tenant:".length);
      queueAlert(
        c.env,
        alertEvent("policy_published", tenant, `${principal.subject} published ${scope} v${result.version}`, `/console/policy/${scope}`, { scope, version: result.version, digest: result.digest, by: principal.subject }),
        (work) => c.executionCtx.waitUntil(work),
      );
    }
    return c.json(result, 201);
  })
  .get("/bundles", async (c) => {
    const now = Date.now();
    const principal = principalOf(c);
    // A current snapshot that does not verify is the store's fault (502 store_corrupt), whatever the caller sent.
    const current = await readCurrentSnapshot(bucketOf(c.env), trustStoreFrom(c.env.TRUST_STORE)).catch(bundleFailure);
    const store = edgeStore(c.env, now, (policy) => engineFor(c.env).warm(policy));
    const visible = (scope: string) => canAccessScope(principal, scope);
    // Both maps are keyed by scope: another tenant's name is not in this token's view, nor its rollout.
    const shown = (byScope: Record<string, unknown>) => Object.fromEntries(Object.entries(byScope).filter(([scope]) => visible(scope)));
    const snapshot = current
      ? { ...current.snapshot, layers: shown(current.snapshot.layers), ...(current.snapshot.rollout ? { rollout: shown(current.snapshot.rollout) } : {}) }
      : null;
    const status = store?.status(now);
    // What the edge refused may name any scope: it is shown to tokens that reach the whole deployment.
    const edge = status ? { ...status, layers: status.layers.filter((layer) => visible(layer.scope)), conflicts: visible("global") ? status.conflicts : [] } : null;
    return c.json({ snapshot, edge });
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
    const principal = principalOf(c);
    const limit = c.req.query("limit") ?? "50";
    if (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 500) throw new ApiError(400, "invalid_input", "limit is 1 to 500", "limit");
    const cursor = c.req.query("cursor");
    if (cursor !== undefined && !/^[\x21-\x7e]{1,1024}$/.test(cursor)) throw new ApiError(400, "invalid_input", "cursor is the next_cursor of a previous page", "cursor");
    // Keys sort newest first (publishLogKey), so a page is the next `limit` keys in R2's order.
    const listed = await bucketOf(c.env).list({ prefix: PUBLISH_LOG_PREFIX, limit: Number(limit), ...(cursor ? { cursor } : {}) }).catch(() => {
      throw new ApiError(400, "invalid_input", "cursor is not one this store issued", "cursor");
    });
    const entries = [];
    for (const object of listed.objects) {
      const scope = publishLogScope(object.key);
      if (scope === undefined || !canAccessScope(principal, scope)) continue;
      const entry = await (await bucketOf(c.env).get(object.key))?.json().catch(() => ({ key: object.key, unreadable: true }));
      if (entry) entries.push(entry);
    }
    return c.json({ entries, ...(listed.truncated ? { next_cursor: listed.cursor } : {}) });
  })
  .post("/refresh", async (c) => {
    const now = Date.now();
    const store = edgeStore(c.env, now, (policy) => engineFor(c.env).warm(policy));
    if (!store) throw new ApiError(503, "store_unavailable", "this deployment has no bundle store");
    await store.ensureLoaded(now);
    const outcome = await store.refresh(now);
    const warming = store.pendingWork();
    if (warming) c.executionCtx.waitUntil(warming);
    return c.json({ outcome, edge: store.status(now) });
  });

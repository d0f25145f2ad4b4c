/**
 * @module admin-rollout
 * Rolling policy out by observation first:
 *
 *   PUT    /v1/admin/modes/:scope           {mode: "enforce"|"observe"} (operator of the scope)
 *   PUT    /v1/admin/shadow/:scope          attach a signed candidate layer as shadow (publisher of the scope)
 *   DELETE /v1/admin/shadow/:scope          detach it
 *   GET    /v1/admin/shadow/:scope/report   what the candidate would change: which rules, how many, examples
 */
import { Hono } from "hono";
import { z } from "zod";
import { chainFor } from "../audit/writer";
import { publishedGlobal, readCurrentSnapshot } from "../bundles/publisher";
import { trustStoreFrom } from "../bundles/trust";
import { assertWithinParent, verifyLayer } from "../bundles/verify";
import { ApiError } from "../errors";
import { bucketOf, scopeParam } from "./admin-params";
import { bundleFailure, readLayerUpload } from "./layer-upload";
import { readJson, validated } from "./request-body";
import { principalOf, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";
import { invalidateRollout, readRollout, ROLLOUT_KEY, shadowLayerKey, type RolloutConfig } from "../rollout/config";
import { emptyReport, shadowShard, tally, type ShadowDiff } from "../rollout/shadow";
import type { AuditPage } from "../audit/chain-do";

/** Read-modify-write of the rollout config, conditional on it not having changed meanwhile. */
async function updateRollout(bucket: R2Bucket, change: (config: RolloutConfig) => void): Promise<RolloutConfig> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const { config, etag } = await readRollout(bucket);
    change(config);
    const written = await bucket.put(ROLLOUT_KEY, JSON.stringify(config), etag ? { onlyIf: { etagMatches: etag } } : undefined);
    if (written) {
      invalidateRollout();
      return config;
    }
  }
  throw new ApiError(409, "conflict", "the rollout configuration kept changing; try again");
}

const modeBody = z.strictObject({ mode: z.enum(["enforce", "observe"]) });

export const adminRolloutRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .put("/modes/:scope", jsonBody(1024), async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const { mode } = validated(modeBody, await readJson(c));
    const config = await updateRollout(bucketOf(c.env), (config) => {
      config.modes[scope] = mode;
    });
    return c.json({ scope, mode: config.modes[scope], set_by: principalOf(c).subject });
  })
  .put("/shadow/:scope", jsonBody(12 * 1024 * 1024), async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const { manifest, files } = await readLayerUpload(c);
    const bucket = bucketOf(c.env);
    const trust = trustStoreFrom(c.env.TRUST_STORE);
    const now = Date.now();
    try {
      const layer = await verifyLayer(manifest, files, trust, scope, now);
      if (scope !== "global") {
        const parent = await publishedGlobal(bucket, trust, await readCurrentSnapshot(bucket, trust), now);
        if (parent) assertWithinParent(parent, layer);
      }
      for (const [name, bytes] of Object.entries(files)) await bucket.put(shadowLayerKey(scope, name), bytes);
      await bucket.put(shadowLayerKey(scope, "manifest.json"), JSON.stringify(manifest));
      const ref = { version: layer.manifest.version, digest: layer.manifest.digest };
      await updateRollout(bucket, (config) => {
        config.shadow[scope] = ref;
      });
      return c.json({ scope, shadow: ref }, 201);
    } catch (error) {
      return bundleFailure(error);
    }
  })
  .delete("/shadow/:scope", async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    await updateRollout(bucketOf(c.env), (config) => {
      delete config.shadow[scope];
    });
    return c.json({ scope, shadow: null });
  })
  .get("/shadow/:scope/report", async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const { config } = await readRollout(bucketOf(c.env));
    // Every diff is counted, a page at a time; only five are kept as examples.
    const chain = chainFor(c.env, shadowShard(scope));
    const report = emptyReport(scope, config.shadow[scope]);
    let after: number | undefined;
    do {
      const page = (await chain.query({ limit: 2000, after_seq: after })) as AuditPage;
      tally(report, page.records as unknown as ShadowDiff[]);
      after = page.next_after_seq;
    } while (after !== undefined);
    return c.json(report);
  });

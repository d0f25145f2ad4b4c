/**
 * @module admin-rollout
 * Rolling policy out by observation first, through signed rollout documents
 * (src/rollout/document.ts) that the store binds into its snapshot:
 *
 *   PUT /v1/admin/rollout/:scope          {rollout: <signed document>}: the scope's mode and shadow candidate
 *   GET /v1/admin/rollout/:scope          the document in force (404: the scope enforces, no shadow)
 *   PUT /v1/admin/shadow/:scope           upload a signed candidate layer; a rollout document then names it
 *   GET /v1/admin/shadow/:scope/report    what the candidate would change: which rules, how many, examples
 *
 * Who may call each is in routes/admin-access.ts; what the change may be is
 * up to the document's signature (a key with the rollout scope covering the
 * scope). Every change and refusal is in the publish log.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../errors";
import { principalOf, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";
import { uploadCandidate } from "../rollout/candidate";
import { publishRollout } from "../rollout/publish-rollout";
import { rolloutInForce, shadowReport } from "../rollout/shadow-report";
import { bucketOf, publishContext, scopeParam } from "./admin-params";
import { bundleFailure, readLayerUpload } from "./layer-upload";
import { readJson, validated } from "./request-body";

const rolloutBody = z.strictObject({ rollout: z.unknown() });

export const adminRolloutRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .put("/rollout/:scope", jsonBody(16 * 1024), async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const { rollout } = validated(rolloutBody, await readJson(c));
    const context = publishContext(c.env, principalOf(c).subject);
    return c.json(await publishRollout(context, scope, rollout).catch(bundleFailure), 201);
  })
  .get("/rollout/:scope", async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const signed = await rolloutInForce(bucketOf(c.env), c.env, scope);
    if (!signed) throw new ApiError(404, "not_found", `${scope} has no rollout document: it enforces, with no shadow`);
    return c.json(signed);
  })
  .put("/shadow/:scope", jsonBody(12 * 1024 * 1024), async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const { manifest, files } = await readLayerUpload(c);
    const context = publishContext(c.env, principalOf(c).subject);
    const candidate = await uploadCandidate(context, scope, manifest, files).catch(bundleFailure);
    return c.json({ scope, candidate, note: "uploaded; a rollout document naming it (tollgate shadow attach) starts the shadow" }, 201);
  })
  .get("/shadow/:scope/report", async (c) => {
    const scope = scopeParam(c.req.param("scope"));
    const signed = await rolloutInForce(bucketOf(c.env), c.env, scope);
    const report = await shadowReport(c.env, scope, signed);
    return c.json(report);
  });

/**
 * @module publish-rollout
 * The store side of `tollgate mode` and `tollgate shadow`: a signed rollout
 * document is verified (its key must hold the rollout scope and cover the
 * scope it configures), must be newer than the one in force, and may name
 * only a shadow candidate that was uploaded and verifies; it is then kept
 * (one object per version) and bound into a new signed snapshot, so every
 * edge takes it with the snapshot. Each change, and each refusal, goes into
 * the publish log with who, what and when.
 */
import { commitSnapshot, readCurrentSnapshot, recordPublishEvent, writeOnce, type PublishContext } from "../bundles/publisher.ts";
import { rolloutKey } from "../bundles/store-layout.ts";
import { BundleError } from "../bundles/verify.ts";
import { readCandidate } from "./candidate.ts";
import { rolloutDigest, verifyRollout, type RolloutDocument } from "./document.ts";

export interface RolloutResult {
  scope: string;
  version: number;
  mode: RolloutDocument["mode"];
  shadow: RolloutDocument["shadow"];
  snapshot_version: number;
}

export async function publishRollout(ctx: PublishContext, scope: string, signed: unknown): Promise<RolloutResult> {
  try {
    const document = await verifyRollout(signed, ctx.trust, scope);
    const current = await readCurrentSnapshot(ctx.bucket, ctx.trust);
    if (!current) throw new BundleError("loosens_parent", `${scope}: publish the global layer before configuring a rollout`);
    const previous = current.snapshot.rollout?.[scope];
    if (previous && document.version <= previous.version) {
      throw new BundleError("version_not_newer", `rollout of ${scope} v${document.version} is not newer than v${previous.version} in force`);
    }
    if (document.shadow) await readCandidate(ctx.bucket, ctx.trust, scope, document.shadow, ctx.nowMs);
    await writeOnce(ctx.bucket, rolloutKey(scope, document.version), new TextEncoder().encode(JSON.stringify(signed)));
    const digest = await rolloutDigest(document);
    const snapshotVersion = await commitSnapshot(ctx, current, (snapshot) => {
      snapshot.rollout = { ...(snapshot.rollout ?? {}), [scope]: { version: document.version, digest } };
    });
    const result = { scope, version: document.version, mode: document.mode, shadow: document.shadow, snapshot_version: snapshotVersion };
    await recordPublishEvent(ctx.bucket, ctx.actor, scope, ctx.nowMs, { outcome: "rollout", ...result, key_id: document.key_id, ...(document.note ? { note: document.note } : {}) });
    return result;
  } catch (error) {
    if (error instanceof BundleError) await recordPublishEvent(ctx.bucket, ctx.actor, scope, ctx.nowMs, { outcome: "refused", what: "rollout", code: error.code, reason: error.message });
    throw error;
  }
}

/**
 * @module candidate
 * Shadow candidates in the bundle store: a signed layer uploaded for a
 * scope, kept under its digest (so an upload never changes what a rollout
 * document already names), and read back verified by the store when a
 * rollout names it and by every edge before evaluating it.
 */
import { publishedGlobal, readCurrentSnapshot, type PublishContext } from "../bundles/publisher.ts";
import type { TrustStore } from "../bundles/manifest.ts";
import { shadowLayerKey } from "../bundles/store-layout.ts";
import { assertStoredSize, MAX_MANIFEST_BYTES, storedJson } from "../bundles/stored-json.ts";
import { assertWithinParent, BundleError, MAX_LAYER_BYTES, verifyLayer, type VerifiedLayer } from "../bundles/verify.ts";
import type { RolloutDocument } from "./document.ts";

const CANDIDATE_FILES = ["policy.wasm", "data.json"] as const;

/** Reads and verifies the shadow candidate a rollout document names. */
export async function readCandidate(bucket: R2Bucket, trust: TrustStore, scope: string, ref: NonNullable<RolloutDocument["shadow"]>, nowMs: number): Promise<VerifiedLayer> {
  const manifestKey = shadowLayerKey(scope, ref.digest, "manifest.json");
  const manifestObject = await bucket.get(manifestKey);
  if (!manifestObject) throw new BundleError("missing_file", `shadow candidate ${ref.digest} for ${scope} was never uploaded`);
  const signedManifest = await storedJson(manifestObject, manifestKey, MAX_MANIFEST_BYTES);
  const files: Record<string, Uint8Array> = {};
  let total = 0;
  for (const name of CANDIDATE_FILES) {
    const object = await bucket.get(shadowLayerKey(scope, ref.digest, name));
    if (!object) continue;
    // Refused before it is read, as a published layer is (layer-reader.ts): the bucket's writers could put anything here.
    await assertStoredSize(object, MAX_LAYER_BYTES - total, `shadow candidate ${ref.digest} for ${scope}: over the ${MAX_LAYER_BYTES} byte cap`);
    total += object.size;
    files[name] = new Uint8Array(await object.arrayBuffer());
  }
  const layer = await verifyLayer(signedManifest, files, trust, scope, nowMs);
  if (layer.manifest.digest !== ref.digest || layer.manifest.version !== ref.version) {
    throw new BundleError("snapshot_mismatch", `shadow candidate for ${scope}: stored v${layer.manifest.version} ${layer.manifest.digest}, named v${ref.version} ${ref.digest}`);
  }
  return layer;
}

/** Uploads a shadow candidate (a signed layer for `scope`), verified and within its parent's bounds; it takes effect only when a rollout document names it. */
export async function uploadCandidate(ctx: PublishContext, scope: string, signedManifest: unknown, files: Record<string, Uint8Array>): Promise<{ version: number; digest: string }> {
  const layer = await verifyLayer(signedManifest, files, ctx.trust, scope, ctx.nowMs);
  if (scope !== "global") {
    const parent = await publishedGlobal(ctx.bucket, ctx.trust, await readCurrentSnapshot(ctx.bucket, ctx.trust), ctx.nowMs);
    if (parent) assertWithinParent(parent, layer);
  }
  const { digest } = layer.manifest;
  for (const name of CANDIDATE_FILES) await ctx.bucket.put(shadowLayerKey(scope, digest, name), files[name]);
  await ctx.bucket.put(shadowLayerKey(scope, digest, "manifest.json"), JSON.stringify(signedManifest));
  return { version: layer.manifest.version, digest };
}


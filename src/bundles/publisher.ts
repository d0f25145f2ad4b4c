/**
 * @module publisher
 * The store side of `tollgate publish`: verify a signed layer, refuse what
 * would loosen its parent or go back in version, write it to R2, and sign a
 * new snapshot that binds it with the current layers of every other scope.
 * Every publish and every refusal is recorded with who, what and when.
 */
import type { Signed, Snapshot, TrustStore } from "./manifest.ts";
import { readLayer } from "./layer-reader.ts";
import { signDocument } from "./signature.ts";
import { MAX_SNAPSHOT_BYTES, storedJson } from "./stored-json.ts";
import { CURRENT_SNAPSHOT_KEY, layerKey, publishLogKey, SNAPSHOT_HIGH_WATER_KEY, snapshotKey } from "./store-layout.ts";
import { assertWithinParent, BundleError, verifyLayer, verifySnapshot, type VerifiedLayer } from "./verify.ts";
import { withTimeout } from "../session/client.ts";
import { WITNESS_TIMEOUT_MS } from "./snapshot-witness-do.ts";

/** How long a snapshot stays valid without a new publish; edges past it apply fail modes. */
export const SNAPSHOT_TTL_MS = 30 * 24 * 3600 * 1000;

export interface PublishContext {
  bucket: R2Bucket;
  trust: TrustStore;
  snapshotKey: { id: string; privateJwk: JsonWebKey };
  actor: string;
  nowMs: number;
  /** What the publisher says this is, e.g. "rollback to v3"; kept in the log. */
  note?: string;
  /**
   * The deployment's snapshot witness (snapshot-witness-do.ts), when it has
   * one: told each version once it is current, and asked, beside the bucket's
   * own mark, for the newest one published.
   */
  witness?: { raise(version: number): Promise<unknown>; newest(): Promise<number> };
}

export interface PublishResult {
  scope: string;
  version: number;
  digest: string;
  snapshot_version: number;
}

export interface CurrentSnapshot {
  snapshot: Snapshot;
  etag: string;
}

/**
 * The current snapshot, verified. One that does not verify is the store's own
 * object gone bad (store_corrupt), whatever the caller sent: a publisher told
 * "unknown_key" about the store's snapshot would look for the fault in its
 * own bundle.
 */
export async function readCurrentSnapshot(bucket: R2Bucket, trust: TrustStore): Promise<CurrentSnapshot | undefined> {
  const object = await bucket.get(CURRENT_SNAPSHOT_KEY);
  if (!object) return undefined;
  const snapshot = await storedJson(object, CURRENT_SNAPSHOT_KEY, MAX_SNAPSHOT_BYTES).then((signed) => verifySnapshot(signed, trust)).catch((error) => {
    if (!(error instanceof BundleError)) throw error;
    throw new BundleError("store_corrupt", `${CURRENT_SNAPSHOT_KEY}: ${error.code}: ${error.message}; the stored object is corrupt, restore it from the store's history`);
  });
  return { snapshot, etag: object.etag };
}

/** The published global layer, verified: what every override is checked against. Undefined before the first publish. */
export async function publishedGlobal(bucket: R2Bucket, trust: TrustStore, current: CurrentSnapshot | undefined, nowMs: number): Promise<VerifiedLayer | undefined> {
  const ref = current?.snapshot.layers.global;
  if (!ref) return undefined;
  const stored = await readLayer(bucket, "global", ref.version);
  return verifyLayer(stored.signedManifest, stored.files, trust, "global", nowMs);
}

/**
 * The newest snapshot ever published: the bucket's mark, or the witness's
 * when it says more (someone who can write to the bucket can delete the mark
 * with current.json, not the witness). A witness that cannot answer in time
 * leaves the bucket's mark alone to say, as before there was one.
 */
async function newestPublished(ctx: PublishContext): Promise<number> {
  const inBucket = await highWater(ctx.bucket);
  const witnessed = ctx.witness ? await withTimeout(ctx.witness.newest(), WITNESS_TIMEOUT_MS).catch(() => 0) : 0;
  return Math.max(inBucket, Number.isSafeInteger(witnessed) ? witnessed : 0);
}

/** The highest snapshot version this store ever issued (0 before the first). */
async function highWater(bucket: R2Bucket): Promise<number> {
  const object = await bucket.get(SNAPSHOT_HIGH_WATER_KEY);
  if (!object) return 0;
  const version = ((await object.json().catch(() => ({}))) as { version?: unknown }).version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0) {
    throw new BundleError("malformed", `${SNAPSHOT_HIGH_WATER_KEY}: not a snapshot version; refusing to guess the next one`);
  }
  return version;
}

/** Appends one entry to the publish log: who, what, when, and the outcome. */
export async function recordPublishEvent(bucket: R2Bucket, actor: string, scope: string, nowMs: number, entry: Record<string, unknown>): Promise<void> {
  const at = new Date(nowMs);
  const body = { at: at.toISOString(), actor, scope, ...entry };
  await bucket.put(publishLogKey(at, scope, crypto.randomUUID().slice(0, 8)), JSON.stringify(body), {
    httpMetadata: { contentType: "application/json" },
  });
}

function record(ctx: PublishContext, scope: string, entry: Record<string, unknown>): Promise<void> {
  return recordPublishEvent(ctx.bucket, ctx.actor, scope, ctx.nowMs, { ...(ctx.note ? { note: ctx.note } : {}), ...entry });
}

/**
 * Signs and writes the next snapshot: the current one with `change` applied,
 * under a version never used before, made current with a conditional write
 * so two publishes never overwrite each other, then kept in the history.
 *
 * The current one must be the newest ever signed (the high-water mark). When
 * current.json was put back to an older snapshot, or deleted (a restore gone
 * wrong, or someone with write access to the bucket), building on it would
 * sign its content anew: every layer and rollout published since would be
 * dropped, under a version every edge accepts. That is refused until the
 * newest snapshot is current again.
 */
export async function commitSnapshot(ctx: PublishContext, current: CurrentSnapshot | undefined, change: (snapshot: Snapshot) => void): Promise<number> {
  const newest = await newestPublished(ctx);
  const currentVersion = current?.snapshot.version ?? 0;
  if (currentVersion < newest) {
    throw new BundleError(
      "snapshot_behind",
      `${CURRENT_SNAPSHOT_KEY} holds ${current ? `snapshot v${currentVersion}` : "no snapshot"}, but v${newest} was published; a publish builds on the newest snapshot only, so nothing published since is dropped: put ${snapshotKey(newest)} back as ${CURRENT_SNAPSHOT_KEY} and publish again`,
    );
  }
  const snapshot: Snapshot = {
    version: currentVersion + 1,
    created: new Date(ctx.nowMs).toISOString(),
    expires: new Date(ctx.nowMs + SNAPSHOT_TTL_MS).toISOString(),
    layers: { ...(current?.snapshot.layers ?? {}) },
    ...(current?.snapshot.rollout ? { rollout: { ...current.snapshot.rollout } } : {}),
    key_id: ctx.snapshotKey.id,
  };
  change(snapshot);
  const signed: Signed<Snapshot> = { document: snapshot, signature: await signDocument(snapshot, ctx.snapshotKey.privateJwk) };
  const body = JSON.stringify(signed);
  const written = await ctx.bucket.put(CURRENT_SNAPSHOT_KEY, body, current ? { onlyIf: { etagMatches: current.etag } } : undefined);
  if (!written) throw new BundleError("version_not_newer", `another publish replaced the snapshot meanwhile; publish again`);
  // Kept in the history only once it is current: a publish that lost the race above had signed the
  // same version, and its copy, written first, would replace the one made current there (put back,
  // every edge that holds that version refuses it, and any other drops what the winner published).
  await ctx.bucket.put(snapshotKey(snapshot.version), body);
  // Raised only once the snapshot is current: a publish that fails before that leaves no mark
  // ahead of current.json, which would refuse every publish after it.
  await ctx.bucket.put(SNAPSHOT_HIGH_WATER_KEY, JSON.stringify({ version: snapshot.version }));
  // The snapshot is published whatever the witness says: one left behind only lets new isolates accept
  // a snapshot between its version and this one, and the next publish raises it.
  await ctx.witness?.raise(snapshot.version).catch((error: Error) => console.error(`snapshot witness not raised to v${snapshot.version}: ${error.message}`));
  return snapshot.version;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

/**
 * Writes one object of a layer version if nothing is there yet: a version is
 * never rewritten. Two publishes of one version at once both pass the version
 * check; had the one that loses the snapshot's conditional write written its
 * files after the winner's, the store would hold other files than the
 * snapshot binds, and every edge would refuse that snapshot and every one
 * after it. The same bytes already there are a retry of the same publish
 * (its snapshot write lost to another scope's), which may go on. Rollout
 * documents are written the same way, for the same reason.
 */
export async function writeOnce(bucket: R2Bucket, key: string, bytes: Uint8Array): Promise<void> {
  if (await bucket.put(key, bytes, { onlyIf: { etagDoesNotMatch: "*" } })) return;
  const existing = await bucket.get(key);
  if (existing && sameBytes(new Uint8Array(await existing.arrayBuffer()), bytes)) return;
  throw new BundleError("version_not_newer", `${key} holds another publish of this version; publish a newer version`);
}

export async function publishLayer(ctx: PublishContext, scope: string, signedManifest: unknown, files: Record<string, Uint8Array>): Promise<PublishResult> {
  try {
    const layer = await verifyLayer(signedManifest, files, ctx.trust, scope, ctx.nowMs);
    const current = await readCurrentSnapshot(ctx.bucket, ctx.trust);
    const previous = current?.snapshot.layers[scope];
    if (previous && layer.manifest.version <= previous.version) {
      throw new BundleError("version_not_newer", `${scope} v${layer.manifest.version} is not newer than the published v${previous.version}`);
    }
    if (scope !== "global") {
      const parent = await publishedGlobal(ctx.bucket, ctx.trust, current, ctx.nowMs);
      if (!parent) throw new BundleError("loosens_parent", `${scope}: publish the global layer before any override`);
      assertWithinParent(parent, layer);
    }
    for (const [name, bytes] of Object.entries(files)) {
      await writeOnce(ctx.bucket, layerKey(scope, layer.manifest.version, name), bytes);
    }
    // The manifest goes last: a layer without its manifest is never read.
    await writeOnce(ctx.bucket, layerKey(scope, layer.manifest.version, "manifest.json"), new TextEncoder().encode(JSON.stringify(signedManifest)));
    const snapshotVersion = await commitSnapshot(ctx, current, (snapshot) => {
      snapshot.layers = { ...snapshot.layers, [scope]: { version: layer.manifest.version, digest: layer.manifest.digest } };
    });
    const result = { scope, version: layer.manifest.version, digest: layer.manifest.digest, snapshot_version: snapshotVersion };
    await record(ctx, scope, { outcome: "published", ...result, key_id: layer.manifest.key_id });
    return result;
  } catch (error) {
    if (error instanceof BundleError) await record(ctx, scope, { outcome: "refused", code: error.code, reason: error.message });
    throw error;
  }
}

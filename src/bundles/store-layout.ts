/**
 * @module store-layout
 * Where things live in the R2 bundle store. Layers are immutable once
 * written (a version is never rewritten); the current snapshot is the one
 * mutable object, replaced with a conditional write so two publishes cannot
 * overwrite each other.
 */
export const CURRENT_SNAPSHOT_KEY = "snapshots/current.json";

export const snapshotKey = (version: number) => `snapshots/${String(version).padStart(12, "0")}.json`;

/** Every snapshot ever signed is kept under here (numbered keys start with a digit; current.json does not). */
export const SNAPSHOT_HISTORY_PREFIX = "snapshots/0";

/** The highest snapshot version ever issued: the next publish goes above it even if current.json was rolled back. */
export const SNAPSHOT_HIGH_WATER_KEY = "snapshots/high-water.json";

export const layerPrefix = (scope: string, version: number) => `layers/${scope}/${String(version).padStart(16, "0")}/`;

export const layerKey = (scope: string, version: number, file: string) => `${layerPrefix(scope, version)}${file}`;

/** A scope's signed rollout documents (mode, shadow), one per version, immutable. */
export const rolloutKey = (scope: string, version: number) => `rollout/${scope}/${String(version).padStart(16, "0")}.json`;

/** A shadow candidate's files, by the digest its rollout document names: immutable once written. */
export const shadowLayerKey = (scope: string, digest: string, file: string) => `shadow/${scope}/${digest.replace(/^sha256:/, "")}/${file}`;

export const PUBLISH_LOG_PREFIX = "log/publish/";

/** Far enough ahead that every timestamp fits; keys count down from it. */
const LOG_EPOCH_END_MS = 10 ** 15;

/**
 * Publish, rollback and refusal records: who, what, when, outcome. Keys
 * count down with time (R2 lists in ascending order), so the newest entry
 * comes first and every older page is reachable with the list's cursor.
 */
export const publishLogKey = (at: Date, scope: string, id: string) =>
  `${PUBLISH_LOG_PREFIX}${String(LOG_EPOCH_END_MS - at.getTime()).padStart(16, "0")}_${at.toISOString()}_${scope}_${id}.json`;

/** The scope a publish-log key records, read back from the key (undefined for a key this store never wrote). */
export function publishLogScope(key: string): string | undefined {
  return /^log\/publish\/\d{16}_[^_]+_(.+)_[0-9a-f]{8}\.json$/.exec(key)?.[1];
}

/**
 * @module snapshot-witness-do
 * The newest snapshot version the store has published, kept in a Durable
 * Object rather than in the bucket. Signatures stop anyone with write access
 * to the bucket from making a snapshot, but not from putting an older signed
 * one back as current.json: an edge that has seen a newer one refuses it,
 * and a new isolate with no copy of its own asks this object first, so it
 * refuses it too (policy-store.ts). The publisher raises the version once a
 * snapshot is current; it only ever goes up.
 */
import { DurableObject } from "cloudflare:workers";

const KEY = "newest_snapshot_version";

/**
 * How long anyone who asks the witness (a new isolate, a publish) waits
 * before going on without it, as they would without a witness at all.
 */
export const WITNESS_TIMEOUT_MS = 2_000;

export class SnapshotWitnessDO extends DurableObject<Env> {
  /** Raises the newest version to `version` (never lowers it; what is not a version changes nothing); returns the newest. */
  async raise(version: number): Promise<number> {
    const newest = await this.newest();
    if (!Number.isSafeInteger(version) || version <= newest) return newest;
    await this.ctx.storage.put(KEY, version);
    return version;
  }

  /** The newest version published (0 before any). What storage holds is checked, not trusted. */
  async newest(): Promise<number> {
    const stored = await this.ctx.storage.get<unknown>(KEY);
    return typeof stored === "number" && Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
  }
}

/** The deployment's one witness, when it binds one. */
export function snapshotWitness(env: Env): DurableObjectStub<SnapshotWitnessDO> | undefined {
  const namespace = env.SNAPSHOT_WITNESS as DurableObjectNamespace<SnapshotWitnessDO> | undefined;
  return namespace?.get(namespace.idFromName("store"));
}

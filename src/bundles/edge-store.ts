/**
 * @module edge-store
 * The one PolicyStore of this isolate, built from the Worker's configuration
 * on first use. Without a bundle store binding the edge decides with its
 * baseline only.
 */
import { PolicyStore } from "./policy-store";
import { snapshotWitness } from "./snapshot-witness-do";
import { trustStoreFrom } from "./trust";
import type { ActivePolicy } from "./active-policy";

let store: PolicyStore | undefined;

export function edgeStore(env: Env, nowMs: number, warm: (policy: ActivePolicy) => Promise<void>): PolicyStore | undefined {
  if (!env.BUNDLES) return undefined;
  store ??= new PolicyStore(
    env.BUNDLES,
    trustStoreFrom(env.TRUST_STORE),
    {
      region: env.EDGE_REGION,
      refreshIntervalMs: Number(env.BUNDLE_REFRESH_SECONDS) * 1000,
      maxStalenessMs: Number(env.MAX_STALENESS_SECONDS) * 1000,
      // The stub is made when asked (in the request that loads the store): a stub is bound to its request.
      newestPublished: env.SNAPSHOT_WITNESS ? () => snapshotWitness(env)!.newest() : undefined,
    },
    nowMs,
    warm,
  );
  return store;
}

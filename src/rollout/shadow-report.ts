/**
 * @module shadow-report
 * A scope's rollout in force and its shadow report, read the same way by
 * the admin API (`GET /v1/admin/rollout/:scope`, `…/shadow/:scope/report`)
 * and the console's policy pages: the document the current snapshot names,
 * and every difference the attached candidate made, counted a page at a
 * time with five kept as examples.
 */
import type { AuditPage } from "../audit/chain-do";
import { chainFor } from "../audit/writer";
import { readCurrentSnapshot } from "../bundles/publisher";
import { released } from "../rpc-result";
import { rolloutKey } from "../bundles/store-layout";
import { trustStoreFrom } from "../bundles/trust";
import { bundleFailure } from "../routes/layer-upload";
import { StoreCorruptError } from "../routes/checked-store";
import { MAX_ROLLOUT_BYTES, storedJson } from "../bundles/stored-json";
import { BundleError } from "../bundles/verify";
import type { RolloutDocument } from "./document";
import { emptyReport, shadowShard, tally, type ShadowDiff, type ShadowReport } from "./shadow";

export async function rolloutInForce(bucket: R2Bucket, env: Env, scope: string): Promise<{ document: RolloutDocument; signature: string } | undefined> {
  const current = await readCurrentSnapshot(bucket, trustStoreFrom(env.TRUST_STORE)).catch(bundleFailure);
  const ref = current?.snapshot.rollout?.[scope];
  if (!ref) return undefined;
  const key = rolloutKey(scope, ref.version);
  const object = await bucket.get(key);
  if (!object) return undefined;
  // One past its bound is the store's object gone bad, as one that is not JSON is (checked-store.ts).
  const signed = await storedJson(object, key, MAX_ROLLOUT_BYTES).catch((error) => {
    if (error instanceof BundleError) throw new StoreCorruptError(key, error.message);
    throw error;
  });
  return signed as { document: RolloutDocument; signature: string };
}

export async function shadowReport(env: Env, scope: string, signed: { document: RolloutDocument } | undefined): Promise<ShadowReport> {
  const chain = chainFor(env, shadowShard(scope));
  const report = emptyReport(scope, signed?.document.shadow ?? undefined);
  let after: number | undefined;
  do {
    // Each page let go of once tallied: a long report reads many, within one request.
    const page = released((await chain.query({ limit: 2000, after_seq: after })) as AuditPage);
    tally(report, page.records as unknown as ShadowDiff[]);
    after = page.next_after_seq;
  } while (after !== undefined);
  return report;
}

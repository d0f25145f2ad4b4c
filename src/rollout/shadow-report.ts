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
import { rolloutKey } from "../bundles/store-layout";
import { trustStoreFrom } from "../bundles/trust";
import { bundleFailure } from "../routes/layer-upload";
import type { RolloutDocument } from "./document";
import { emptyReport, shadowShard, tally, type ShadowDiff, type ShadowReport } from "./shadow";

export async function rolloutInForce(bucket: R2Bucket, env: Env, scope: string): Promise<{ document: RolloutDocument; signature: string } | undefined> {
  const current = await readCurrentSnapshot(bucket, trustStoreFrom(env.TRUST_STORE)).catch(bundleFailure);
  const ref = current?.snapshot.rollout?.[scope];
  if (!ref) return undefined;
  const object = await bucket.get(rolloutKey(scope, ref.version));
  return object ? ((await object.json()) as { document: RolloutDocument; signature: string }) : undefined;
}

export async function shadowReport(env: Env, scope: string, signed: { document: RolloutDocument } | undefined): Promise<ShadowReport> {
  const chain = chainFor(env, shadowShard(scope));
  const report = emptyReport(scope, signed?.document.shadow ?? undefined);
  let after: number | undefined;
  do {
    const page = (await chain.query({ limit: 2000, after_seq: after })) as AuditPage;
    tally(report, page.records as unknown as ShadowDiff[]);
    after = page.next_after_seq;
  } while (after !== undefined);
  return report;
}

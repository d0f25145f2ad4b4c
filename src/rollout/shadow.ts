/**
 * @module shadow
 * Shadow evaluation: a candidate layer attached to a scope is evaluated beside
 * the active policy, after the response has gone, and every decision where
 * the two differ is logged (in its own audit shard) for `tollgate shadow
 * report`. Candidates are verified like any layer before they are used.
 */
import { compositionKey, type ActivePolicy } from "../bundles/active-policy";
import type { TrustStore } from "../bundles/manifest";
import type { VerifiedLayer } from "../bundles/verify";
import type { DecisionEngine } from "../engine/decision-engine";
import type { ComposedDecision } from "../engine/compose";
import type { FallbackParams } from "../engine/fallback-params";
import { ownMember, setMember } from "../own-members";
import { readCandidate } from "./candidate";
import type { RolloutDocument } from "./document";

/**
 * The audit shard a scope's shadow diffs are chained in. "~" and ":" are not in any tenant id,
 * so no tenant's records ever land in a shadow report, nor a report's diffs in a tenant's log.
 */
export const shadowShard = (scope: string) => `~shadow:${scope}`;

const verified = new Map<string, VerifiedLayer>();

/** A candidate, read and verified once per digest per isolate. */
async function candidate(bucket: R2Bucket, trust: TrustStore, scope: string, ref: { version: number; digest: string }, nowMs: number): Promise<VerifiedLayer> {
  const known = verified.get(ref.digest);
  if (known) return known;
  const layer = await readCandidate(bucket, trust, scope, ref, nowMs);
  verified.set(ref.digest, layer);
  if (verified.size > 100) verified.delete(verified.keys().next().value!);
  return layer;
}

/**
 * The active composition with the candidate in its scope's place: its layer
 * refs name the candidate as its code does, so every key derived from them
 * (the engine's narrower compositions included) names a sandbox running
 * exactly that code, and no live composition's sandbox is ever loaded with
 * a candidate's.
 */
export function withCandidate(active: ActivePolicy, scope: string, layer: VerifiedLayer): ActivePolicy {
  const order = (s: string) => (s === "global" ? 0 : s.startsWith("region:") ? 1 : 2);
  const code = active.code().filter((l) => l.scope !== scope);
  code.push({ scope, entrypoint: layer.manifest.entrypoint, wasm: layer.wasm, data: layer.data });
  code.sort((a, b) => order(a.scope) - order(b.scope));
  const ref = { scope, digest: layer.manifest.digest, version: layer.manifest.version, built_at: layer.manifest.created };
  const refs = [...active.layers.filter((l) => l.scope !== scope), ref].sort((a, b) => order(a.scope) - order(b.scope));
  return {
    key: `${compositionKey(refs)}~shadow`,
    layers: refs,
    code: () => code,
    data: code.map((l) => l.data),
    isBaseline: false,
  };
}

export interface ShadowDiff {
  kind: "shadow_diff";
  decision_id: string;
  time: string;
  tenant: string;
  scope: string;
  candidate: { version: number; digest: string };
  request_tenant: string;
  tool: string | null;
  active: { decision: string; rules: string[] };
  candidate_decision: { decision: string; rules: string[] };
  rules: string[];
}

const rulesOf = (d: ComposedDecision) => [...new Set(d.reasons.map((r) => r.rule))].sort();

export interface ShadowRun {
  /** The rollout documents of this request's scopes that name a candidate. */
  documents: RolloutDocument[];
  bucket: R2Bucket;
  trust: TrustStore;
  engine: DecisionEngine;
  active: ActivePolicy;
  activeDecision: ComposedDecision;
  inputJson: string;
  fallback: FallbackParams;
  decisionId: string;
  requestTenant: string;
  tool: string | null;
  nowMs: number;
}

/** Evaluates every configured candidate that applies to this request; returns the differences. */
export async function runShadows(run: ShadowRun): Promise<ShadowDiff[]> {
  const diffs: ShadowDiff[] = [];
  for (const { scope, shadow: ref } of run.documents) {
    if (!ref) continue;
    const layer = await candidate(run.bucket, run.trust, scope, ref, run.nowMs);
    const result = await run.engine.decide(withCandidate(run.active, scope, layer), run.inputJson, run.fallback, run.nowMs);
    // An answer the candidate did not give itself (its sandbox could not decide, and narrower layers or a fail
    // mode did) says nothing of the candidate: it is not compared.
    if (result.fallback_reason !== undefined) {
      console.error(`shadow candidate ${ref.digest} for ${scope} could not decide: ${result.fallback_reason}`);
      continue;
    }
    const before = { decision: run.activeDecision.decision, rules: rulesOf(run.activeDecision) };
    const after = { decision: result.decision.decision, rules: rulesOf(result.decision) };
    if (before.decision === after.decision && before.rules.join() === after.rules.join()) continue;
    diffs.push({
      kind: "shadow_diff",
      decision_id: `${run.decisionId}:${scope}`,
      time: new Date(run.nowMs).toISOString(),
      tenant: shadowShard(scope),
      scope,
      candidate: ref,
      request_tenant: run.requestTenant,
      tool: run.tool,
      active: before,
      candidate_decision: after,
      rules: [...new Set([...before.rules, ...after.rules])].filter((r) => !(before.rules.includes(r) && after.rules.includes(r))),
    });
  }
  return diffs;
}

export interface ShadowReport {
  scope: string;
  candidate: { version: number; digest: string } | null;
  differences: number;
  transitions: Record<string, number>;
  rules: Record<string, number>;
  examples: ShadowDiff[];
}

/** A report with nothing counted yet; `tally` adds each page of diffs to it. */
export function emptyReport(scope: string, ref: RolloutDocument["shadow"] | undefined): ShadowReport {
  return { scope, candidate: ref ?? null, differences: 0, transitions: {}, rules: {}, examples: [] };
}

/** Counts the diffs of the attached candidate (diffs of earlier candidates are left out). */
export function tally(report: ShadowReport, diffs: ShadowDiff[]): void {
  for (const diff of diffs) {
    if (report.candidate && diff.candidate.digest !== report.candidate.digest) continue;
    report.differences++;
    const key = `${diff.active.decision} → ${diff.candidate_decision.decision}`;
    report.transitions[key] = (report.transitions[key] ?? 0) + 1;
    // Rule ids are the policies' to choose: "constructor" is counted, not added to Object.
    for (const rule of diff.rules) setMember(report.rules, rule, (ownMember(report.rules, rule) ?? 0) + 1);
    if (report.examples.length < 5) report.examples.push(diff);
  }
}

/**
 * @module from-decision
 * Builds a decision's audit record from what the edge answered and what was
 * asked, keeping arguments only as the policy's obligations allow.
 */
import type { DecisionInput } from "../schema/decision-input";
import type { LayerRef, Reason } from "../types";
import { loggableArgs, type AuditRecord } from "./record";

export interface AnsweredDecision {
  decision_id: string;
  decision: string;
  reasons: Reason[];
  obligations: unknown[];
  policy: { layers: LayerRef[] };
  evaluation: { eval_us: number; path: string };
  edge: { location: string; region: string; region_source: string; located_region?: string };
  risk: { tier: string };
  mode: string;
  stale: boolean;
  observed?: { decision: string; reasons: Reason[] };
  fail_mode_applied?: unknown;
  session?: { fail_mode_applied?: string };
  receipt?: string;
}

/**
 * `print` is what the policy printed while deciding (print() in Rego), by
 * layer, already bounded by the evaluator; it goes to the record only,
 * marked as the policy's own output, never to the agent.
 */
export async function buildAuditRecord(answer: AnsweredDecision, input: DecisionInput, nowMs: number, print?: Record<string, string[]>): Promise<AuditRecord> {
  const action = input.action as DecisionInput["action"] & { tool?: string; args?: unknown; mcp?: Record<string, unknown> };
  const { args, redacted } = await loggableArgs(action.args, answer.obligations);
  const record: AuditRecord = {
    kind: "decision",
    decision_id: answer.decision_id,
    time: new Date(nowMs).toISOString(),
    location: answer.edge.location,
    region: answer.edge.region,
    region_source: answer.edge.region_source,
    ...(answer.edge.located_region ? { located_region: answer.edge.located_region } : {}),
    tenant: input.tenant,
    agent: input.agent.id,
    credential: { kind: input.identity.credential.kind, id: input.identity.credential.id },
    session: input.session.id,
    risk_tier: answer.risk.tier,
    action_type: action.type,
    tool: action.tool ?? null,
    // Only the gateway sets it: a body that names it is refused (schema/decision-input.ts).
    ...(action.mcp ? { mcp: action.mcp } : {}),
    // The real decision is what is recorded; in observe mode the agent was told allow.
    decision: answer.observed?.decision ?? answer.decision,
    rules: (answer.observed?.reasons ?? answer.reasons).map((r) => r.rule),
    // A message may quote the arguments: where the policy redacts them, only the rule ids are kept.
    reasons: (answer.observed?.reasons ?? answer.reasons).map((r) => ({ rule: r.rule, message: redacted ? null : r.message })),
    obligations: answer.obligations,
    layers: answer.policy.layers.map(({ scope, digest, version }) => ({ scope, digest, version })),
    mode: answer.mode,
    fail_mode_applied: answer.fail_mode_applied !== undefined || answer.evaluation.path === "fail_mode" || answer.session?.fail_mode_applied !== undefined,
    stale: answer.stale,
    eval_us: answer.evaluation.eval_us,
  };
  if (answer.observed) record.told = answer.decision;
  if (args) record.args = args;
  if (redacted) record.args_redacted = true;
  if (print) record.policy_print = print;
  if (answer.receipt) record.receipt = answer.receipt;
  return record;
}

/**
 * @module decision
 * The decision as this SDK hands it to the agent, whichever path made it:
 * the edge, a reused receipt, the last signed policy evaluated locally, or
 * the tier's fail mode when nothing else could decide.
 */
import type { Verdict } from "./receipt.ts";

export interface Reason {
  rule: string;
  message: string;
}

/** Where the decision came from. */
export type DecisionSource = "edge" | "cache" | "offline" | "fail_mode";

export interface Decision {
  /** The decision id (the edge's, or `off-…` for one made offline). */
  id: string;
  decision: Verdict;
  allowed: boolean;
  reasons: Reason[];
  /** The rule ids of `reasons`. */
  rules: string[];
  obligations: unknown[];
  source: DecisionSource;
  /** The effective risk tier the decision was made at. */
  tier?: string;
  /** The signed receipt (edge and cache decisions, when the edge signs them). */
  receipt?: string;
  /** Set on `require_approval`: the approval to wait for. */
  approval?: { id: string; status: string; expires_at: string };
  /** The edge's whole answer, for what this type does not name. */
  response?: Record<string, unknown>;
}

export function decisionOf(response: Record<string, unknown>, source: DecisionSource): Decision {
  const reasons = (Array.isArray(response.reasons) ? response.reasons : []) as Reason[];
  const session = response.session as { approval?: Decision["approval"] } | undefined;
  const risk = response.risk as { tier?: string } | undefined;
  const decision = response.decision as Verdict;
  return {
    id: String(response.decision_id),
    decision,
    allowed: decision === "allow",
    reasons,
    rules: reasons.map((reason) => reason.rule),
    obligations: (Array.isArray(response.obligations) ? response.obligations : []) as unknown[],
    source,
    ...(risk?.tier ? { tier: risk.tier } : {}),
    ...(typeof response.receipt === "string" ? { receipt: response.receipt } : {}),
    ...(session?.approval ? { approval: session.approval } : {}),
    response,
  };
}

/**
 * @module compose
 * Combines the answers of the policy layers that govern a request into one
 * decision. Composition only ever restricts: deny beats require_approval beats
 * allow, and reasons and obligations of every layer are kept. A layer that
 * failed to evaluate cannot be ignored, so the request's risk tier decides:
 * critical and high fail closed, medium and low fail open and are flagged.
 */
import type { LayerOutcome } from "./sandbox-protocol";
import type { FailMode, PolicyDecision, Reason, RiskTier, Verdict } from "../types";

const SEVERITY: Record<Verdict, number> = { allow: 0, require_approval: 1, deny: 2 };

export const DEFAULT_FAIL_MODES: Record<RiskTier, FailMode> = {
  critical: "closed",
  high: "closed",
  medium: "open",
  low: "open",
};

export interface ComposedDecision extends PolicyDecision {
  /** Set when a layer could not be evaluated and the tier's fail mode decided. */
  fail_mode_applied?: { layer: string; code: string; message: string };
}

function isPolicyDecision(value: unknown): value is PolicyDecision {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<PolicyDecision>;
  return (
    typeof candidate.decision === "string" &&
    candidate.decision in SEVERITY &&
    Array.isArray(candidate.reasons) &&
    Array.isArray(candidate.obligations)
  );
}

/** The decision when the policy itself cannot answer, by the request's risk tier. */
export function failModeDecision(tier: RiskTier, layer: string, code: string, message: string, rule = "policy_unavailable"): ComposedDecision {
  const failMode = DEFAULT_FAIL_MODES[tier];
  const reason = layer === "store" ? message : `policy layer ${layer} could not decide (${code})`;
  return {
    decision: failMode === "closed" ? "deny" : "allow",
    reasons: [{ rule, message: `${reason}; ${tier} risk fails ${failMode}` }],
    obligations: [],
    risk_tier: tier,
    fail_mode: failMode,
    fail_mode_applied: { layer, code, message },
  };
}

export function composeLayers(outcomes: LayerOutcome[], tier: RiskTier): ComposedDecision {
  if (outcomes.length === 1 && isPolicyDecision(outcomes[0].result)) {
    return outcomes[0].result;
  }
  let composed: ComposedDecision | undefined;
  for (const outcome of outcomes) {
    if (!isPolicyDecision(outcome.result)) {
      const code = outcome.error?.code ?? "malformed_decision";
      const message = outcome.error?.message ?? "the policy returned no decision object";
      return failModeDecision(tier, outcome.scope, code, message);
    }
    composed = composed ? restrict(composed, outcome.result) : { ...outcome.result };
  }
  if (!composed) return failModeDecision(tier, "none", "no_layers", "no policy layer is active");
  return composed;
}

function restrict(parent: PolicyDecision, child: PolicyDecision): PolicyDecision {
  const decision = SEVERITY[child.decision] > SEVERITY[parent.decision] ? child.decision : parent.decision;
  return {
    ...parent,
    decision,
    reasons: uniqueSorted([...parent.reasons, ...child.reasons]) as Reason[],
    obligations: uniqueSorted([...parent.obligations, ...child.obligations]),
    fail_mode: parent.fail_mode === "closed" || child.fail_mode === "closed" ? "closed" : (child.fail_mode ?? parent.fail_mode),
  };
}

function uniqueSorted(values: unknown[]): unknown[] {
  const byKey = new Map(values.map((value) => [JSON.stringify(value), value]));
  return [...byKey.keys()].sort().map((key) => byKey.get(key));
}

/**
 * @module compose
 * Combines the answers of the policy layers that govern a request into one
 * decision. Composition only ever restricts: deny beats require_approval
 * beats allow, reasons and obligations of every layer are kept, and every
 * parameter the session's objects enforce takes its most restrictive value
 * across the layers (the lowest budget, the breaker that trips first, the
 * shortest approval, the highest tier), so a region or tenant layer that
 * tightens one takes effect. A layer that failed to evaluate contributes
 * its tier's fail mode (from policy data) as one more answer: it can make
 * the decision stricter, and never erases another layer's deny. When the
 * failure is the input's doing (the same policy answers other inputs), the
 * layer's answer is a denial whatever the tier: otherwise a caller could
 * shape an input that makes a policy run out of time, and have a tier that
 * fails open allow what the policy would refuse.
 */
import type { LayerOutcome } from "./sandbox-protocol";
import type { FallbackParams } from "./fallback-params";
import { stricterBreaker } from "./fallback-params";
import { higherTier, isRiskTier } from "../schema/risk-tier";
import { isJsonObject, ownMember } from "../own-members";
import type { BreakerParams } from "../session/types";
import type { PolicyDecision, Reason, Verdict } from "../types";

const SEVERITY: Record<Verdict, number> = { allow: 0, require_approval: 1, deny: 2 };

export interface ComposedDecision extends PolicyDecision {
  /** Set when a layer could not be evaluated and the tier's fail mode decided for it. */
  fail_mode_applied?: { layer: string; code: string; message: string };
}

function isPolicyDecision(value: unknown): value is PolicyDecision {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Partial<PolicyDecision>;
  return (
    typeof candidate.decision === "string" &&
    // Own keys only: "constructor" or "toString" is no verdict, and a layer answering one has not answered.
    Object.hasOwn(SEVERITY, candidate.decision) &&
    Array.isArray(candidate.reasons) &&
    Array.isArray(candidate.obligations)
  );
}

/**
 * The decision when no policy layer can answer: the tier's fail mode, with
 * the session parameters the layers' data names, so the session's objects
 * still meter and trip as the policy would have had them.
 */
export function failModeDecision(fallback: FallbackParams, layer: string, code: string, message: string, rule = "policy_unavailable"): ComposedDecision {
  const { fail_mode: failMode, tier } = fallback;
  const reason = layer === "store" ? message : `policy layer ${layer} could not decide (${code})`;
  return {
    decision: failMode === "closed" ? "deny" : "allow",
    reasons: [{ rule, message: `${reason}; ${tier} risk fails ${failMode}` }],
    obligations: [],
    risk_tier: tier,
    fail_mode: failMode,
    budget: fallback.budget,
    breaker: fallback.breaker,
    agent_limit: fallback.agent_limit,
    approval_ttl_s: fallback.approval_ttl_s,
    delegation_ttl_s: fallback.delegation_ttl_s,
    ttl_s: 0,
    fail_mode_applied: { layer, code, message },
  };
}

/**
 * The decision when a policy that answers other inputs could not decide this
 * one (it ran out of time, aborted, or returned no decision): the input is
 * what fails, so it is refused whatever the tier's fail mode, with the
 * session parameters the layers' data names.
 */
export function inputFailureDecision(fallback: FallbackParams, layer: string, code: string, message: string): ComposedDecision {
  const refused = failModeDecision({ ...fallback, fail_mode: "closed" }, layer, code, message, "policy_failed_on_input");
  const reason = `policy layer ${layer} could not decide this input (${code}), although it decides others; refused whatever the ${fallback.tier} tier's fail mode`;
  return { ...refused, reasons: [{ rule: "policy_failed_on_input", message: reason }] };
}

/** `inputFailed`: whether a layer's failure is this input's doing (the policy answers others); see inputFailureDecision. */
export function composeLayers(outcomes: LayerOutcome[], fallback: FallbackParams, inputFailed = false): ComposedDecision {
  const failure = inputFailed ? inputFailureDecision : failModeDecision;
  const answered = outcomes.filter((outcome) => isPolicyDecision(outcome.result));
  const failed = outcomes.filter((outcome) => !isPolicyDecision(outcome.result));
  if (answered.length === 0) {
    const first = failed[0];
    return first
      ? failure(fallback, first.scope, first.error?.code ?? "malformed_decision", first.error?.message ?? "the policy returned no decision object")
      : failModeDecision(fallback, "none", "no_layers", "no policy layer is active");
  }
  let composed: ComposedDecision = answered.map((outcome) => outcome.result as PolicyDecision).reduce(restrict);
  for (const outcome of failed) {
    const code = outcome.error?.code ?? "malformed_decision";
    const message = outcome.error?.message ?? "the policy returned no decision object";
    const failing = failure(fallback, outcome.scope, code, message);
    composed = { ...restrict(composed, failing), fail_mode_applied: composed.fail_mode_applied ?? failing.fail_mode_applied };
  }
  return composed;
}

const numberOr = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) ? value : undefined);

function least(a: unknown, b: unknown): number | undefined {
  const x = numberOr(a);
  const y = numberOr(b);
  return x === undefined ? y : y === undefined ? x : Math.min(x, y);
}

function stricterLimits(a: unknown, b: unknown): Record<string, number> | undefined {
  const left = (a as { limits?: Record<string, unknown> } | undefined)?.limits;
  const right = (b as { limits?: Record<string, unknown> } | undefined)?.limits;
  if (!left || !right) return (left ?? right) as Record<string, number> | undefined;
  // fromEntries defines own properties: a dimension named "__proto__" is kept, not taken as the prototype.
  return Object.fromEntries(
    [...new Set([...Object.keys(left), ...Object.keys(right)])].flatMap((dimension) => {
      const value = least(ownMember(left, dimension), ownMember(right, dimension));
      return value === undefined ? [] : [[dimension, value]];
    }),
  );
}

function asBreaker(value: unknown): BreakerParams | undefined {
  const b = value as Partial<BreakerParams> | undefined;
  return b && numberOr(b.threshold) !== undefined && numberOr(b.window_s) !== undefined && numberOr(b.cooldown_s) !== undefined ? (b as BreakerParams) : undefined;
}

function stricterAgentLimit(a: unknown, b: unknown): unknown {
  const x = a as { key?: string; max?: number; window_s?: number } | null | undefined;
  const y = b as { key?: string; max?: number; window_s?: number } | null | undefined;
  if (!x || !y || x.key !== y.key) return x ?? y ?? null;
  return { key: x.key, max: least(x.max, y.max), window_s: Math.max(numberOr(x.window_s) ?? 0, numberOr(y.window_s) ?? 0) };
}

function higherCost(a: unknown, b: unknown): unknown {
  if (!a || !b) return a ?? b;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  return Object.fromEntries([...new Set([...Object.keys(x), ...Object.keys(y)])].map((k) => [k, Math.max(numberOr(x[k]) ?? 0, numberOr(y[k]) ?? 0)]));
}

function restrict(parent: ComposedDecision, child: ComposedDecision): ComposedDecision {
  const decision = SEVERITY[child.decision] > SEVERITY[parent.decision] ? child.decision : parent.decision;
  const parentBreaker = asBreaker(parent.breaker);
  const childBreaker = asBreaker(child.breaker);
  const tier = isRiskTier(parent.risk_tier) && isRiskTier(child.risk_tier) ? higherTier(parent.risk_tier, child.risk_tier) : (parent.risk_tier ?? child.risk_tier);
  return {
    ...parent,
    decision,
    reasons: uniqueSorted([...parent.reasons, ...child.reasons]) as Reason[],
    obligations: uniqueSorted([...parent.obligations, ...child.obligations]),
    risk_tier: tier,
    fail_mode: parent.fail_mode === "closed" || child.fail_mode === "closed" ? "closed" : (child.fail_mode ?? parent.fail_mode),
    cost: higherCost(parent.cost, child.cost) as PolicyDecision["cost"],
    budget: parent.budget || child.budget ? { ...(parent.budget as object), limits: stricterLimits(parent.budget, child.budget) } : undefined,
    breaker: parentBreaker && childBreaker ? stricterBreaker(parentBreaker, childBreaker) : (parentBreaker ?? childBreaker),
    agent_limit: stricterAgentLimit(parent.agent_limit, child.agent_limit),
    approval_ttl_s: least(parent.approval_ttl_s, child.approval_ttl_s),
    delegation_ttl_s: least(parent.delegation_ttl_s, child.delegation_ttl_s),
    ttl_s: least(parent.ttl_s, child.ttl_s),
    ...(parent.tools !== undefined || child.tools !== undefined ? { tools: stricterListing(parent.tools, child.tools) } : {}),
  };
}

/**
 * A listing (list_tools) composed tool by tool: the strictest verdict any
 * layer gives it. A tool a layer did not judge, or judged with something that
 * is not a verdict, is not listed.
 */
function stricterListing(a: unknown, b: unknown): Record<string, Verdict> {
  const listing = (value: unknown) => (isJsonObject(value) ? value : {});
  const left = listing(a);
  const right = listing(b);
  const composed = [...new Set([...Object.keys(left), ...Object.keys(right)])].map((tool): [string, Verdict] => {
    const verdicts = [ownMember(left, tool), ownMember(right, tool)];
    if (verdicts.some((v) => typeof v !== "string" || !Object.hasOwn(SEVERITY, v))) return [tool, "deny"];
    return [tool, (verdicts as Verdict[]).reduce((x, y) => (SEVERITY[y] > SEVERITY[x] ? y : x))];
  });
  // fromEntries defines own properties, so a tool named "__proto__" stays a tool.
  return Object.fromEntries(composed);
}

function uniqueSorted(values: unknown[]): unknown[] {
  const byKey = new Map(values.map((value) => [JSON.stringify(value), value]));
  return [...byKey.keys()].sort().map((key) => byKey.get(key));
}

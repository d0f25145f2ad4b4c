/**
 * @module fallback-params
 * What the edge enforces when no policy answer is there to say it: the
 * tier's fail mode, and the session parameters (breaker, budget limits,
 * approval and delegation lifetimes, the agent-wide limit) a decision would
 * have carried. They are read from the governing layers' own data, most
 * restrictive first, so every default lives in policy data and nowhere else;
 * a value missing from every layer (malformed data) gets the strictest
 * setting, never a lenient one.
 */
import { isRiskTier } from "../schema/risk-tier";
import type { AgentLimit, BreakerParams, Usage } from "../session/types";
import type { FailMode, RiskTier } from "../types";

export interface FallbackParams {
  tier: RiskTier;
  fail_mode: FailMode;
  breaker: BreakerParams;
  budget: { limits: Partial<Usage> };
  agent_limit: AgentLimit | null;
  approval_ttl_s: number;
  delegation_ttl_s: number;
}

type Params = Record<string, any>;

const BUDGET_DIMENSIONS = ["tokens", "api_calls", "cost_usd", "wall_clock_s"] as const;
/** The strictest breaker: the first denial opens it, and only an operator closes it. */
const STRICTEST_BREAKER: BreakerParams = { threshold: 1, window_s: 86_400, cooldown_s: 0 };

const numberAt = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined);
const paramsOf = (data: unknown): Params => ((data as { tollgate?: { params?: unknown } } | undefined)?.tollgate?.params ?? {}) as Params;

function least(values: Array<number | undefined>, strictest: number): number {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? strictest : Math.min(...known);
}

function most(values: Array<number | undefined>, strictest: number): number {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? strictest : Math.max(...known);
}

/** The stricter of two breakers: trips sooner, remembers longer, and a cool-down of 0 (operator only) beats any other. */
export function stricterBreaker(a: BreakerParams, b: BreakerParams): BreakerParams {
  return {
    threshold: Math.min(a.threshold, b.threshold),
    window_s: Math.max(a.window_s, b.window_s),
    cooldown_s: a.cooldown_s === 0 || b.cooldown_s === 0 ? 0 : Math.max(a.cooldown_s, b.cooldown_s),
  };
}

/** The tier's fail mode by every layer's data: closed if any layer says so, or if one says nothing usable. */
export function failModeOf(layers: unknown[], tier: RiskTier): FailMode {
  if (layers.length === 0) return "closed";
  return layers.every((data) => paramsOf(data).risk_tiers?.[tier]?.fail_mode === "open") ? "open" : "closed";
}

/** The agent-wide limit on a tool, the strictest the layers set (the lowest count, the longest window); null when none sets one. */
export function agentLimitOf(layers: unknown[], tool: string | undefined): AgentLimit | null {
  const agentLimits = tool === undefined ? [] : layers.map((data) => paramsOf(data).agent_limits?.[tool]).filter((limit) => limit && typeof limit === "object");
  if (agentLimits.length === 0) return null;
  return { key: tool!, max: least(agentLimits.map((l) => numberAt(l.max)), 0), window_s: most(agentLimits.map((l) => numberAt(l.window_s)), 86_400) };
}

export function fallbackParams(layers: unknown[], tier: RiskTier, role: string, tool: string | undefined): FallbackParams {
  const params = layers.map(paramsOf);
  const breakers: BreakerParams[] = params.map((p) => {
    const b = p.breakers?.[tier] ?? {};
    return { threshold: numberAt(b.threshold) ?? 1, window_s: numberAt(b.window_s) ?? 86_400, cooldown_s: numberAt(b.cooldown_s) ?? 0 };
  });
  const limits: Partial<Usage> = {};
  for (const dimension of BUDGET_DIMENSIONS) {
    const values = params.map((p) => numberAt(p.budgets?.roles?.[role]?.[dimension] ?? p.budgets?.default?.[dimension]));
    limits[dimension] = least(values, 0);
  }
  return {
    tier: isRiskTier(tier) ? tier : "critical",
    fail_mode: failModeOf(layers, tier),
    breaker: breakers.length === 0 ? STRICTEST_BREAKER : breakers.reduce(stricterBreaker),
    budget: { limits },
    agent_limit: agentLimitOf(layers, tool),
    approval_ttl_s: least(params.map((p) => numberAt(p.approvals?.ttl_s)), 0),
    delegation_ttl_s: least(params.map((p) => numberAt(p.delegation?.credential_ttl_s)), 0),
  };
}

/**
 * Whether any of these tools reaches outside (tier "external") in any
 * governing layer's data: where the session's taint would decide, and the
 * edge cannot always read it (session/stage.ts).
 */
export function reachesOutside(layers: unknown[], tools: string[]): boolean {
  const params = layers.map(paramsOf);
  return tools.some((tool) => params.some((p) => p.tools?.[tool]?.tier === "external"));
}

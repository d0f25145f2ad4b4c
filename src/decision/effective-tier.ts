/**
 * @module effective-tier
 * The risk tier a decision is judged at: the highest of what the caller
 * declared, the floor policy data sets for the action (its type, its tool,
 * every step of a plan; an unknown tool is critical) and the tier the agent
 * is registered at. The floors are read from every layer that governs the
 * request, so a region or tenant layer that raises a tool's floor takes
 * effect. The edge computes this before evaluating, because the fail mode,
 * the breaker and the demand for a synchronous audit record follow the tier
 * even when the policy cannot answer; `risk.rego` computes the same from
 * the same data, so the policy agrees with the edge (tested against opa eval).
 */
import { higherTier, isRiskTier, RISK_TIERS, tierRank } from "../schema/risk-tier";
import type { RiskTier } from "../types";
import { ownMember } from "../own-members";

export interface EffectiveTier {
  tier: RiskTier;
  declared?: RiskTier;
  /** The term that set the tier: `declared`, `agent_registration`, `tool:<name>`, `action:<type>`. */
  source: string;
}

interface TierParams {
  tools?: Record<string, { risk_floor?: unknown } | undefined>;
  risk?: { action_floors?: Record<string, unknown>; unknown_tool_floor?: unknown; unknown_action_floor?: unknown };
}

export interface ActionShape {
  type?: unknown;
  tool?: unknown;
  steps?: unknown;
}

const CRITICAL: RiskTier = RISK_TIERS[RISK_TIERS.length - 1];
const tierOr = (value: unknown, fallback: RiskTier): RiskTier => (isRiskTier(value) ? value : fallback);

function paramsOf(layerData: unknown): TierParams {
  const params = (layerData as { tollgate?: { params?: unknown } } | undefined)?.tollgate?.params;
  return typeof params === "object" && params !== null ? (params as TierParams) : {};
}

/** The tools an action uses: its own, or every step's. */
function toolsOf(action: ActionShape): unknown[] {
  if (action.type === "tool_call") return [action.tool];
  if (action.type === "plan" && Array.isArray(action.steps)) return action.steps.map((step) => (step as { tool?: unknown } | null)?.tool);
  return [];
}

function floorsOf(params: TierParams, action: ActionShape): Array<[string, RiskTier]> {
  const risk = params.risk ?? {};
  const actionFloors = risk.action_floors ?? {};
  const floors: Array<[string, RiskTier]> = [];
  const type = typeof action.type === "string" ? action.type : "";
  const actionFloor = Object.hasOwn(actionFloors, type) ? actionFloors[type] : risk.unknown_action_floor;
  floors.push([`action:${type}`, tierOr(actionFloor, CRITICAL)]);
  const tools = params.tools ?? {};
  for (const tool of toolsOf(action)) {
    const name = typeof tool === "string" ? tool : "";
    const entry = ownMember(tools, name);
    const floor = entry && typeof entry === "object" && Object.hasOwn(entry, "risk_floor") ? entry.risk_floor : risk.unknown_tool_floor;
    floors.push([`tool:${name}`, tierOr(floor, CRITICAL)]);
  }
  return floors;
}

export function effectiveTier(layers: unknown[], action: ActionShape, declared: RiskTier | undefined, registered: RiskTier): EffectiveTier {
  const terms: Array<[string, RiskTier]> = [
    ["declared", declared ?? "low"],
    ["agent_registration", registered],
    ...layers.flatMap((data) => floorsOf(paramsOf(data), action)),
  ];
  let tier: RiskTier = "low";
  let source = "declared";
  for (const [term, floor] of terms) {
    if (tierRank(floor) > tierRank(tier)) {
      tier = higherTier(tier, floor);
      source = term;
    }
  }
  return { tier, ...(declared ? { declared } : {}), source };
}

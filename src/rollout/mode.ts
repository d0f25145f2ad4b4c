/**
 * @module mode
 * Which mode governs a decision: the most specific scope's rollout document
 * wins (tenant, then region, then global), and a scope without one
 * enforces; a request governed by two regions (a pin) enforces unless both
 * chains observe. Observe mode is a loosening, so the signed global layer bounds
 * it: `params.rollout.observe_tiers` lists the tiers it may apply to
 * (critical is not among them by default, and a child layer may only drop
 * tiers). A decision above them is enforced whatever the document says,
 * and the response says why.
 */
import type { RiskTier } from "../types";
import type { Mode, RolloutDocument } from "./document";

export interface ModeDecision {
  mode: Mode;
  /** The scope whose document set the mode, when one did. */
  scope?: string;
  /** Set when a document asked for observe mode and the tier forbids it. */
  observe_refused?: string;
}

function observeTiers(layers: unknown[]): Set<string> {
  // Every layer must allow the tier: a child that dropped one forbids it.
  const lists = layers.map((data) => (data as { tollgate?: { params?: { rollout?: { observe_tiers?: unknown } } } } | undefined)?.tollgate?.params?.rollout?.observe_tiers);
  if (lists.length === 0 || lists.some((list) => !Array.isArray(list))) return new Set();
  return new Set((lists as string[][]).reduce((kept, list) => kept.filter((tier) => list.includes(tier))));
}

/** `documents` in order of specificity, most specific first. */
export function modeFor(documents: RolloutDocument[], tier: RiskTier, layers: unknown[]): ModeDecision {
  const governing = documents[0];
  if (!governing || governing.mode === "enforce") return { mode: "enforce", ...(governing ? { scope: governing.scope } : {}) };
  if (!observeTiers(layers).has(tier)) {
    return { mode: "enforce", scope: governing.scope, observe_refused: `${governing.scope} is in observe mode, which policy does not allow for ${tier}-tier actions` };
  }
  return { mode: "observe", scope: governing.scope };
}

/**
 * The mode of a request governed by more than one chain of scopes: a tenant
 * pinned to one region, working from another, is governed by both regions'
 * layers, so by both chains' documents. Observe only if every chain says
 * observe; any chain that enforces, enforces. A pin, which a tenant's own
 * publisher writes, so never takes its requests out of the enforcement of
 * the region they come from.
 */
export function modeAcross(chains: RolloutDocument[][], tier: RiskTier, layers: unknown[]): ModeDecision {
  const modes = (chains.length > 0 ? chains : [[]]).map((documents) => modeFor(documents, tier, layers));
  return modes.find((decision) => decision.mode === "enforce") ?? modes[0];
}

/**
 * @module risk-tier
 * The four risk tiers, in order: one definition for the schemas, the
 * registry and the effective-tier computation.
 */
import type { RiskTier } from "../types.ts";

export const RISK_TIERS = ["low", "medium", "high", "critical"] as const satisfies readonly RiskTier[];

export const tierRank = (tier: RiskTier): number => RISK_TIERS.indexOf(tier);

export function isRiskTier(value: unknown): value is RiskTier {
  return typeof value === "string" && (RISK_TIERS as readonly string[]).includes(value);
}

/** The higher of two tiers. */
export const higherTier = (a: RiskTier, b: RiskTier): RiskTier => (tierRank(b) > tierRank(a) ? b : a);

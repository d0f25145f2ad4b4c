/**
 * @module receipt-params
 * What the policy data says about decisions used away from the edge: how
 * long a receipt of a one-time decision stays valid as proof, and when an
 * agent may decide offline (the tiers, the longest time since it last
 * reached an edge, and the share of a session's remaining budget a lease may
 * take). Read from every governing layer, most restrictive wins (a child
 * layer may only narrow them, by the global layer's bounds); a value missing
 * from a layer's data is the strictest: no proof window, no offline tiers,
 * no window, no lease. The SDK's offline evaluation reads the same data with
 * this same module.
 */
import { isRiskTier } from "../schema/risk-tier";
import type { RiskTier } from "../types";

export interface ReceiptParams {
  proof_window_s: number;
  offline: { tiers: RiskTier[]; max_window_s: number; lease_fraction: number };
}

type Params = Record<string, any>;
const paramsOf = (data: unknown): Params => ((data as { tollgate?: { params?: unknown } } | undefined)?.tollgate?.params ?? {}) as Params;
const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0);

export function receiptParams(layers: unknown[]): ReceiptParams {
  const params = layers.map(paramsOf);
  if (params.length === 0) return { proof_window_s: 0, offline: { tiers: [], max_window_s: 0, lease_fraction: 0 } };
  const tierSets = params.map((p) => (Array.isArray(p.offline?.tiers) ? p.offline.tiers.filter(isRiskTier) : []) as RiskTier[]);
  return {
    proof_window_s: Math.min(...params.map((p) => Math.floor(count(p.receipts?.proof_window_s)))),
    offline: {
      tiers: tierSets.reduce((common, tiers) => common.filter((tier) => tiers.includes(tier))),
      max_window_s: Math.min(...params.map((p) => Math.floor(count(p.offline?.max_window_s)))),
      lease_fraction: Math.min(1, ...params.map((p) => count(p.offline?.lease_fraction))),
    },
  };
}

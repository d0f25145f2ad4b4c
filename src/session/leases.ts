/**
 * @module leases
 * Budget leases: slices of a session's remaining budget the session object
 * grants an agent ahead of time, so it may spend them on decisions it makes
 * offline. The object's invariant is that usage committed plus every
 * reservation still outstanding never exceeds a limit: online decisions are
 * checked against what is left after the reservations (budget.ts), and a
 * lease is cut only from that.
 *
 * A lease reserves what it granted until it is released; spending from it
 * (the offline decisions uploaded later, each once by decision id) moves
 * the amount from reserved to used. A lease the agent never releases stays
 * reserved, expired or not: what it may have spent offline is not known
 * until it is reported, so it is counted as spent. Spending more than the
 * lease (a misbehaving client) is recorded as used all the same: nothing
 * reported is ever dropped.
 *
 * Synchronous on purpose, like budget.ts: the session object runs a grant,
 * a spend or a release as one atomic step.
 */
import type { Usage } from "./types";
import { randomHex } from "../../packages/agent/src/hex.ts";

export const LEASED_DIMENSIONS = ["tokens", "api_calls", "cost_usd"] as const;
export type LeasedDimension = (typeof LEASED_DIMENSIONS)[number];
export type Amounts = Record<LeasedDimension, number>;

export const ZERO: Amounts = { tokens: 0, api_calls: 0, cost_usd: 0 };

export interface LeaseView {
  id: string;
  agent_id: string;
  granted: Amounts;
  spent: Amounts;
  created_at: string;
  expires_at: string;
  status: "open" | "released";
  released_at: string | null;
}

interface LeaseRow extends Record<string, SqlStorageValue> {
  id: string;
  agent_id: string;
  granted: string;
  spent_tokens: number;
  spent_api_calls: number;
  spent_cost_usd: number;
  created_ms: number;
  expires_ms: number;
  status: string;
  released_ms: number | null;
}

function view(row: LeaseRow): LeaseView {
  return {
    id: row.id,
    agent_id: row.agent_id,
    granted: JSON.parse(row.granted) as Amounts,
    spent: { tokens: row.spent_tokens, api_calls: row.spent_api_calls, cost_usd: row.spent_cost_usd },
    created_at: new Date(row.created_ms).toISOString(),
    expires_at: new Date(row.expires_ms).toISOString(),
    status: row.status === "released" ? "released" : "open",
    released_at: row.released_ms === null ? null : new Date(row.released_ms).toISOString(),
  };
}

/** A slice of what remains, rounded down to whole tokens and calls and whole cents. */
function slice(dimension: LeasedDimension, remaining: number, fraction: number): number {
  const amount = Math.max(0, remaining) * fraction;
  return dimension === "cost_usd" ? Math.floor(amount * 100) / 100 : Math.floor(amount);
}

export class Leases {
  /**
   * What open leases hold back, once summed: every online allow asks, and
   * only a grant, a spend or a release here changes it.
   */
  private reservedKept: Amounts | undefined;

  constructor(private readonly sql: SqlStorage) {}

  /** What open leases hold back: granted and not yet spent, per dimension. */
  reserved(): Amounts {
    if (this.reservedKept) return { ...this.reservedKept };
    const reserved = { ...ZERO };
    for (const lease of this.open()) {
      for (const dimension of LEASED_DIMENSIONS) reserved[dimension] += Math.max(0, lease.granted[dimension] - lease.spent[dimension]);
    }
    this.reservedKept = reserved;
    return { ...reserved };
  }

  /** Sums the open leases from SQLite again at the next use: after a transaction that may have been rolled back. */
  forget(): void {
    this.reservedKept = undefined;
  }

  open(): LeaseView[] {
    return this.sql.exec<LeaseRow>("SELECT * FROM leases WHERE status = 'open' ORDER BY created_ms").toArray().map(view);
  }

  get(id: string): LeaseView | undefined {
    const row = this.sql.exec<LeaseRow>("SELECT * FROM leases WHERE id = ?", id).toArray()[0];
    return row ? view(row) : undefined;
  }

  /**
   * Grants `fraction` of what is left of each limit after usage and every
   * other reservation, for `ttlS` seconds. A limit the policy does not set
   * leases nothing: offline, only what is counted may be spent.
   */
  grant(agentId: string, limits: Partial<Usage>, used: Usage, fraction: number, ttlS: number, nowMs: number): LeaseView | undefined {
    const reserved = this.reserved();
    const granted = { ...ZERO };
    for (const dimension of LEASED_DIMENSIONS) {
      const limit = limits[dimension];
      if (limit === undefined) continue;
      granted[dimension] = slice(dimension, limit - used[dimension] - reserved[dimension], fraction);
    }
    if (granted.api_calls < 1) return undefined;
    const id = `lse_${randomHex(12)}`;
    this.reservedKept = undefined;
    this.sql.exec(
      "INSERT INTO leases (id, agent_id, granted, spent_tokens, spent_api_calls, spent_cost_usd, created_ms, expires_ms, status) VALUES (?, ?, ?, 0, 0, 0, ?, ?, 'open')",
      id,
      agentId,
      JSON.stringify(granted),
      nowMs,
      nowMs + ttlS * 1000,
    );
    return this.get(id);
  }

  /**
   * Records one offline decision's cost against its lease, once per
   * decision id; false when this decision was recorded before.
   */
  spend(leaseId: string, decisionId: string, cost: Amounts, nowMs: number): boolean {
    if (this.recorded(decisionId)) return false;
    this.reservedKept = undefined;
    this.sql.exec("INSERT INTO lease_spends (decision_id, lease_id, at_ms, cost) VALUES (?, ?, ?, ?)", decisionId, leaseId, nowMs, JSON.stringify(cost));
    this.sql.exec(
      "UPDATE leases SET spent_tokens = spent_tokens + ?, spent_api_calls = spent_api_calls + ?, spent_cost_usd = spent_cost_usd + ? WHERE id = ?",
      cost.tokens,
      cost.api_calls,
      cost.cost_usd,
      leaseId,
    );
    return true;
  }

  /**
   * What an auditor should know of offline spends before they are recorded:
   * each decision's reasons, by decision id, where its lease is not one this
   * session granted this agent (`unknown_lease`), its time falls outside the
   * lease by more than the clocks may differ (`outside_lease`), or it takes
   * the lease's spends so far, in order, past what it granted
   * (`lease_exceeded`), or comes after the lease was released
   * (`lease_released`: the release handed back what it had not been told was
   * spent, and online decisions may have spent that since). A decision
   * already recorded was judged when it first came, and counts as spent.
   * Reads only.
   */
  judge(agentId: string, spends: Array<{ decision_id: string; lease_id: string; cost: Amounts; at_ms: number }>, skewMs: number): Map<string, string[]> {
    const judged = new Map<string, string[]>();
    const running = new Map<string, Amounts>();
    for (const spend of spends) {
      if (this.recorded(spend.decision_id)) continue;
      const lease = this.get(spend.lease_id);
      if (!lease || lease.agent_id !== agentId) {
        judged.set(spend.decision_id, ["unknown_lease"]);
        continue;
      }
      const reasons: string[] = [];
      if (spend.at_ms < Date.parse(lease.created_at) - skewMs || spend.at_ms > Date.parse(lease.expires_at) + skewMs) reasons.push("outside_lease");
      if (lease.status === "released") reasons.push("lease_released");
      const total = running.get(lease.id) ?? { ...lease.spent };
      for (const dimension of LEASED_DIMENSIONS) total[dimension] += spend.cost[dimension];
      running.set(lease.id, total);
      // This spend takes the lease past what it granted, in a dimension it spends (a cent's rounding is not an overspend).
      const over = (dimension: LeasedDimension) => spend.cost[dimension] > 0 && total[dimension] > lease.granted[dimension] + (dimension === "cost_usd" ? 0.005 : 0);
      if (LEASED_DIMENSIONS.some(over)) reasons.push("lease_exceeded");
      if (reasons.length > 0) judged.set(spend.decision_id, reasons);
    }
    return judged;
  }

  /** Whether an offline decision's spend is recorded already. */
  private recorded(decisionId: string): boolean {
    return this.sql.exec("SELECT 1 FROM lease_spends WHERE decision_id = ?", decisionId).toArray().length > 0;
  }

  /** Gives back what the lease did not spend; releasing twice changes nothing. */
  release(id: string, nowMs: number): LeaseView | undefined {
    this.reservedKept = undefined;
    this.sql.exec("UPDATE leases SET status = 'released', released_ms = ? WHERE id = ? AND status = 'open'", nowMs, id);
    return this.get(id);
  }

  /** Forgets spends and leases released before `beforeMs` (the edge refuses offline records that old). */
  sweep(beforeMs: number): void {
    this.sql.exec("DELETE FROM lease_spends WHERE lease_id IN (SELECT id FROM leases WHERE status = 'released' AND released_ms <= ?)", beforeMs);
    this.sql.exec("DELETE FROM leases WHERE status = 'released' AND released_ms <= ?", beforeMs);
  }
}

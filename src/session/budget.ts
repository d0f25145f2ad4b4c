/**
 * @module budget
 * A session's usage in its object's SQLite: tokens, API calls and cost as
 * debited, wall-clock time since the session's first decision. Every function
 * here is synchronous on purpose: the session object calls the check and the
 * debit back to back with no await in between, which is what makes them one
 * atomic step under concurrency.
 *
 * The usage row is kept in memory once read, and every write here changes
 * the copy as it changes the row (the debit reads it back as stored): an
 * object is the only writer of its storage, and every decision reads it.
 */
import type { Reason } from "../types";
import { ZERO, type Amounts } from "./leases";
import type { CommitRequest, Usage } from "./types";

const DIMENSIONS = ["tokens", "api_calls", "cost_usd", "wall_clock_s"] as const;

type UsageRow = { tokens: number; api_calls: number; cost_usd: number; started_ms: number; limits: string | null };

function usageOf(row: UsageRow, now: number): Usage {
  return { tokens: row.tokens, api_calls: row.api_calls, cost_usd: row.cost_usd, wall_clock_s: Math.max(0, Math.floor((now - row.started_ms) / 1000)) };
}

export class Budget {
  /** The usage row as stored, once read. */
  private kept: UsageRow | undefined;

  constructor(private readonly sql: SqlStorage) {}

  private row(now: number): UsageRow {
    if (this.kept) return this.kept;
    const row = this.sql.exec<UsageRow>("SELECT tokens, api_calls, cost_usd, started_ms, limits FROM usage").toArray()[0];
    if (row) return (this.kept = row);
    this.sql.exec("INSERT INTO usage (id, tokens, api_calls, cost_usd, started_ms) VALUES (1, 0, 0, 0, ?)", now);
    return (this.kept = { tokens: 0, api_calls: 0, cost_usd: 0, started_ms: now, limits: null });
  }

  /** Reads the row from SQLite again at its next use: after a transaction that may have been rolled back. */
  forget(): void {
    this.kept = undefined;
  }

  usage(now: number): Usage {
    return usageOf(this.row(now), now);
  }

  /** The limits the policy last named for this session ({} before any). */
  knownLimits(now: number): Partial<Usage> {
    const text = this.row(now).limits;
    return text ? (JSON.parse(text) as Partial<Usage>) : {};
  }

  /**
   * The limits for this decision: the policy's, remembered for later; or,
   * when the policy could not be evaluated and named none, the last ones it
   * named, so a fail-open decision is still metered against them.
   */
  private limits(request: CommitRequest, row: UsageRow): Partial<Usage> {
    if (Object.keys(request.limits).length === 0) return row.limits ? (JSON.parse(row.limits) as Partial<Usage>) : {};
    const named = JSON.stringify(request.limits);
    if (named !== row.limits) {
      this.sql.exec("UPDATE usage SET limits = ?", named);
      this.kept = { ...row, limits: named };
    }
    return request.limits;
  }

  /**
   * Why this action's cost does not fit, or undefined when it fits in every
   * dimension. What budget leases hold back for offline decisions
   * (`reserved`) is not there to spend.
   */
  exhausted(request: CommitRequest, now: number, reserved: Amounts = ZERO): Reason | undefined {
    const row = this.row(now);
    const used = usageOf(row, now);
    const limits = this.limits(request, row);
    const projected: Usage = {
      tokens: used.tokens + request.cost.tokens,
      api_calls: used.api_calls + request.cost.api_calls,
      cost_usd: used.cost_usd + request.cost.cost_usd,
      wall_clock_s: used.wall_clock_s,
    };
    for (const dimension of DIMENSIONS) {
      const limit = limits[dimension];
      const held = dimension === "wall_clock_s" ? 0 : reserved[dimension];
      if (limit !== undefined && projected[dimension] + held > limit) {
        const leased = held > 0 ? ` (${held} of it held by budget leases for offline decisions)` : "";
        return { rule: "budget_exhausted", message: `${dimension} budget exhausted: ${projected[dimension] + held} would exceed the limit of ${limit}${leased}` };
      }
    }
    return undefined;
  }

  /** Gives back a debit whose decision was undone. */
  refund(cost: CommitRequest["cost"]): void {
    this.sql.exec("UPDATE usage SET tokens = tokens - ?, api_calls = api_calls - ?, cost_usd = cost_usd - ?", cost.tokens, cost.api_calls, cost.cost_usd);
    this.kept = undefined;
  }

  /** Only after `exhausted` said it fits, which also made sure the usage row exists. Returns the usage after it, as stored. */
  debit(request: Pick<CommitRequest, "cost">, now: number): Usage {
    const row = this.sql
      .exec<UsageRow>(
        "UPDATE usage SET tokens = tokens + ?, api_calls = api_calls + ?, cost_usd = cost_usd + ? RETURNING tokens, api_calls, cost_usd, started_ms, limits",
        request.cost.tokens,
        request.cost.api_calls,
        request.cost.cost_usd,
      )
      .one();
    this.kept = row;
    return usageOf(row, now);
  }
}

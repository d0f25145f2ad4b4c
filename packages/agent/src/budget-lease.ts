/**
 * @module budget-lease
 * The budget leases this client holds, one per session: a slice of the
 * session's remaining budget its session object granted ahead of time.
 * An offline decision with a cost spends from it, and is refused when the
 * lease is spent, expired, or was never granted; nothing offline can
 * spend what the session object did not set aside. Spending is counted
 * here as it happens and reported by the uploaded decisions; releasing the
 * lease on reconnect gives back what was not spent.
 */
import type { EdgeTransport } from "./edge-transport.ts";
import { TollgateError } from "./errors.ts";

export type Amounts = { tokens: number; api_calls: number; cost_usd: number };
const DIMENSIONS = ["tokens", "api_calls", "cost_usd"] as const;

export interface Lease {
  id: string;
  session: string;
  granted: Amounts;
  /** Spent by decisions this client made offline (and what the edge already counted). */
  spent: Amounts;
  expiresMs: number;
  /** The session's usage when the lease was granted: what the policy sees offline, plus what was spent since. */
  usage: Record<string, number>;
  grantedAtMs: number;
}

interface LeaseAnswer {
  lease_id: string;
  granted: Amounts;
  spent: Amounts;
  expires_at: string;
  usage: Record<string, number>;
}

export class BudgetLeases {
  private readonly leases = new Map<string, Lease>();
  private readonly pending = new Map<string, Promise<Lease>>();

  get(session: string): Lease | undefined {
    return this.leases.get(session);
  }

  all(): Lease[] {
    return [...this.leases.values()];
  }

  /**
   * Asks for a lease for the session unless a live one is held or being
   * asked for; resolves to the lease when this call obtained it. Errors are
   * the caller's to count.
   */
  ensure(transport: EdgeTransport, session: string, nowMs: number): Promise<Lease | undefined> {
    const held = this.leases.get(session);
    if ((held && held.expiresMs > nowMs) || this.pending.has(session)) return Promise.resolve(undefined);
    const request = transport
      .call<LeaseAnswer>("POST", "/v1/leases", { body: { session } })
      .then(({ body }) => {
        const lease: Lease = {
          id: body.lease_id,
          session,
          granted: body.granted,
          spent: body.spent,
          expiresMs: Date.parse(body.expires_at),
          usage: body.usage,
          grantedAtMs: nowMs,
        };
        this.leases.set(session, lease);
        return lease;
      })
      .finally(() => this.pending.delete(session));
    this.pending.set(session, request);
    return request;
  }

  /** Why `cost` cannot be spent from the session's lease now, or undefined after spending it. */
  spend(session: string, cost: Amounts, nowMs: number): { lease?: Lease; refusal?: { rule: string; message: string } } {
    const lease = this.leases.get(session);
    if (!lease) return { refusal: { rule: "no_budget_lease", message: "no budget lease was granted for this session before the edge became unreachable" } };
    if (lease.expiresMs <= nowMs) return { refusal: { rule: "budget_lease_expired", message: `the budget lease expired at ${new Date(lease.expiresMs).toISOString()}` } };
    for (const dimension of DIMENSIONS) {
      if (lease.spent[dimension] + cost[dimension] > lease.granted[dimension] + 1e-9) {
        return {
          refusal: {
            rule: "budget_lease_exhausted",
            message: `${dimension}: ${lease.spent[dimension] + cost[dimension]} would exceed the ${lease.granted[dimension]} leased for offline decisions`,
          },
        };
      }
    }
    for (const dimension of DIMENSIONS) lease.spent[dimension] += cost[dimension];
    return { lease };
  }

  /** Gives the unspent part of the session's lease back (after its decisions were uploaded), and forgets it. */
  async release(transport: EdgeTransport, session: string): Promise<void> {
    const lease = this.leases.get(session);
    if (!lease) return;
    try {
      await transport.call("POST", `/v1/leases/${lease.id}/release`, { body: { session } });
    } catch (error) {
      // Already gone (released before, or another agent's): nothing is held for it any more.
      if (!(error instanceof TollgateError && error.status === 404)) throw error;
    }
    if (this.leases.get(session) === lease) this.leases.delete(session);
  }
}

export function anyAmount(cost: Amounts): boolean {
  return DIMENSIONS.some((dimension) => cost[dimension] > 0);
}

/**
 * @module receipt-cache
 * Decisions the agent may reuse without asking the edge again: only those
 * whose verified receipt says `ttl_s > 0`, keyed by session and the hash of
 * the exact action, and only until the receipt's `exp`. Bounded: the least
 * recently used entry goes first.
 */
import type { Decision } from "./decision.ts";
import type { ReceiptClaims } from "./receipt.ts";

interface Entry {
  decision: Decision;
  claims: ReceiptClaims;
}

export class ReceiptCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 1_000) {}

  static key(session: string, actionHash: string): string {
    return `${session}\n${actionHash}`;
  }

  get(key: string, nowMs: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.claims.exp * 1000 <= nowMs) return undefined;
    this.entries.set(key, entry);
    return entry;
  }

  /** Keeps a decision only if its receipt allows reuse. */
  put(key: string, decision: Decision, claims: ReceiptClaims): void {
    if (this.maxEntries <= 0 || claims.ttl_s <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { decision, claims });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets every decision: what they were decided on has changed (the agent read data of a new class). */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * @module agent-do
 * One Durable Object per tenant and agent, for limits no single call
 * violates: an agent issuing 200 purchase orders in an hour, each under the
 * approval threshold. Only actions whose tool carries an agent-wide limit
 * reach it (the session object calls it, so the common path stays at one
 * round trip). Crossing the limit opens the agent's breaker for that tool, across
 * all of the agent's sessions, until an operator resets it. It also keeps
 * the hashes of the agent's offline spool entries the edge has taken, so an
 * upload that follows on from none of them is known to have left some out,
 * and the classes of data any of the agent's sessions has read, so that
 * moving to another session does not shed them (agent-taint.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { MAX_AGENT_TAINT_WINDOW_S } from "./agent-taint";
import { AGENT_MIGRATIONS, migrate } from "./migrations";
import type { AgentLimit } from "./types";

/** Spool entry hashes kept per agent: far more than one upload (100 entries) or a few spools' worth. */
const MAX_SPOOL_HASHES = 2_000;
/**
 * Distinct data classes an agent may have read within the longest taint
 * window; a registry names a handful. Past it a record is refused, never
 * made room for: dropping the oldest would let an agent push "pii" out of
 * its own record by reporting made-up classes.
 */
const MAX_DATA_CLASSES = 100;

export type AgentCount = { allowed: true; count: number } | { allowed: false; count: number; rule: string; message: string };

export class AgentDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, AGENT_MIGRATIONS));
  }

  /**
   * Whether an upload whose first entry names `prev` follows on from an
   * entry the edge took before (or starts a spool); then remembers the hashes
   * this upload brings. An agent may keep several spools (one per process),
   * so any remembered entry may be followed, and the same upload sent again
   * still follows on. The most recent MAX_SPOOL_HASHES are kept.
   */
  async continuesSpool(prev: string, genesis: string, hashes: string[], nowMs: number): Promise<boolean> {
    const continues = prev === genesis || this.sql.exec("SELECT 1 FROM spool_hashes WHERE hash = ?", prev).toArray().length > 0;
    for (const hash of hashes) this.sql.exec("INSERT INTO spool_hashes (hash, at_ms) VALUES (?, ?) ON CONFLICT (hash) DO UPDATE SET at_ms = excluded.at_ms", hash, nowMs);
    this.sql.exec("DELETE FROM spool_hashes WHERE hash NOT IN (SELECT hash FROM spool_hashes ORDER BY at_ms DESC LIMIT ?)", MAX_SPOOL_HASHES);
    return continues;
  }

  /**
   * Records that a result carrying these classes reached one of the agent's
   * sessions now. Only classes older than any window can reach are ever
   * dropped; a record that would hold more than MAX_DATA_CLASSES is refused.
   */
  async recordClasses(classes: string[], nowMs: number): Promise<{ refused: string | null }> {
    this.sql.exec("DELETE FROM data_classes WHERE at_ms <= ?", nowMs - MAX_AGENT_TAINT_WINDOW_S * 1000);
    const unique = [...new Set(classes)];
    const fresh = unique.filter((c) => this.sql.exec("SELECT 1 FROM data_classes WHERE class = ?", c).toArray().length === 0);
    const held = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM data_classes").one().n;
    if (held + fresh.length > MAX_DATA_CLASSES) {
      return { refused: `the agent has read ${held} classes of data recently, and at most ${MAX_DATA_CLASSES} are kept; none is dropped to make room` };
    }
    for (const c of unique) {
      this.sql.exec("INSERT INTO data_classes (class, at_ms) VALUES (?, ?) ON CONFLICT (class) DO UPDATE SET at_ms = MAX(at_ms, excluded.at_ms)", c, nowMs);
    }
    return { refused: null };
  }

  /** The classes any of the agent's sessions read after `sinceMs`. */
  async classesSince(sinceMs: number): Promise<string[]> {
    return this.sql.exec<{ class: string }>("SELECT class FROM data_classes WHERE at_ms > ? ORDER BY class", sinceMs).toArray().map((row) => row.class);
  }

  /** Counts one allowed action against the agent-wide limit; idempotent by decision id. */
  async count(limit: AgentLimit, decisionId: string, nowMs: number): Promise<AgentCount> {
    const open = this.sql.exec<{ reason: string }>("SELECT reason FROM breaker WHERE key = ?", limit.key).toArray()[0];
    const since = nowMs - limit.window_s * 1000;
    const counted = () => this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE key = ? AND at_ms > ?", limit.key, since).one().n;
    if (open) {
      return { allowed: false, count: counted(), rule: "agent_circuit_open", message: `the agent's breaker for ${limit.key} is open (${open.reason}); an operator must reset it` };
    }
    this.sql.exec("INSERT OR IGNORE INTO events (key, decision_id, at_ms) VALUES (?, ?, ?)", limit.key, decisionId, nowMs);
    this.sql.exec("DELETE FROM events WHERE key = ? AND at_ms <= ?", limit.key, since);
    const count = counted();
    if (count > limit.max) {
      const reason = `${count} ${limit.key} within ${limit.window_s} s, over the agent-wide limit of ${limit.max}`;
      this.sql.exec("INSERT OR REPLACE INTO breaker (key, opened_ms, reason) VALUES (?, ?, ?)", limit.key, nowMs, reason);
      return { allowed: false, count, rule: "agent_rate_exceeded", message: reason };
    }
    return { allowed: true, count };
  }

  /**
   * Takes back an action `count` let through that the session then denied
   * (its breaker, its budget): the agent-wide count covers only actions that
   * were allowed. Idempotent, like `count`.
   */
  async release(key: string, decisionId: string): Promise<void> {
    this.sql.exec("DELETE FROM events WHERE key = ? AND decision_id = ?", key, decisionId);
  }

  async reset(): Promise<{ reset: number }> {
    const open = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM breaker").one().n;
    this.sql.exec("DELETE FROM breaker");
    this.sql.exec("DELETE FROM events");
    return { reset: open };
  }

  async view(): Promise<{ open: Array<{ key: string; reason: string }> }> {
    return { open: this.sql.exec<{ key: string; reason: string }>("SELECT key, reason FROM breaker").toArray() };
  }
}

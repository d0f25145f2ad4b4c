/**
 * @module breaker-index-do
 * One Durable Object per tenant: the index of its sessions' circuit
 * breakers that operators list (which are open, since when, why). Each
 * session object reports its breaker when it opens or closes, from its
 * alarm, retrying until the index has it; a report carries a version, so a
 * late, older one never replaces a newer one. The session object stays the
 * authority: resetting goes there, and a breaker turns half-open by its
 * cool-down without a report (the console shows when it will).
 */
import { DurableObject } from "cloudflare:workers";
import { queueAlert } from "../alerts/alert-batches";
import { alertEvent } from "../alerts/alert-event";
import { BREAKER_INDEX_MIGRATIONS, migrate } from "./migrations";
import type { BreakerReport } from "./types";

/** An operator's list, open breakers first: at most this many. */
const LIST_LIMIT = 500;
/** Closed breakers are kept this long, so a reset shows as recent history. */
const CLOSED_RETENTION_MS = 7 * 86_400_000;

export interface IndexedBreaker {
  agent_id: string;
  session_id: string;
  state: string;
  opened_at: string | null;
  reason: string | null;
  cooldown_s: number;
  updated_at: string;
}

export class BreakerIndexDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, BREAKER_INDEX_MIGRATIONS));
  }

  /** Takes a session's report; returns true when it was newer than what the index held (and so taken). */
  async report(report: BreakerReport): Promise<boolean> {
    const now = Date.now();
    const written = this.sql.exec(
      `INSERT INTO breakers (agent_id, session_id, state, opened_ms, reason, cooldown_s, version, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (agent_id, session_id) DO UPDATE SET state = excluded.state, opened_ms = excluded.opened_ms, reason = excluded.reason,
         cooldown_s = excluded.cooldown_s, version = excluded.version, updated_ms = excluded.updated_ms
       WHERE excluded.version > breakers.version`,
      report.agent_id,
      report.session_id,
      report.state,
      report.opened_ms,
      report.reason,
      report.cooldown_s,
      report.version,
      now,
    ).rowsWritten;
    this.sql.exec("DELETE FROM breakers WHERE state = 'closed' AND updated_ms < ?", now - CLOSED_RETENTION_MS);
    if (written > 0 && report.state === "open") {
      const path = `/console/sessions/${report.tenant}/${encodeURIComponent(report.agent_id)}/${encodeURIComponent(report.session_id)}`;
      // Into this isolate's batch of alerts, as an edge's are (alert-batches.ts).
      queueAlert(
        this.env,
        alertEvent("breaker_opened", report.tenant, `the breaker of ${report.agent_id}'s session ${report.session_id} opened: ${report.reason ?? "denials"}`, path, {
          agent: report.agent_id,
          session: report.session_id,
          reason: report.reason,
          opened_at: report.opened_ms === null ? null : new Date(report.opened_ms).toISOString(),
        }),
        (work) => this.ctx.waitUntil(work),
      );
    }
    return written > 0;
  }

  async list(): Promise<IndexedBreaker[]> {
    return this.sql
      .exec<{ agent_id: string; session_id: string; state: string; opened_ms: number | null; reason: string | null; cooldown_s: number; updated_ms: number }>(
        `SELECT agent_id, session_id, state, opened_ms, reason, cooldown_s, updated_ms FROM breakers ORDER BY state = 'closed', opened_ms DESC LIMIT ${LIST_LIMIT}`,
      )
      .toArray()
      .map((row) => ({
        agent_id: row.agent_id,
        session_id: row.session_id,
        state: row.state,
        opened_at: row.opened_ms === null ? null : new Date(row.opened_ms).toISOString(),
        reason: row.reason,
        cooldown_s: row.cooldown_s,
        updated_at: new Date(row.updated_ms).toISOString(),
      }));
  }
}

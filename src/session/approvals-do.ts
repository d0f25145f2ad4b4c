/**
 * @module approvals-do
 * One Durable Object per tenant: the index approvers list. It holds a copy
 * of each approval of the tenant's sessions, sent by the session objects'
 * alarms whenever one changes (created, decided, used, expired). The session
 * object stays the authority: approving, rejecting and using an approval go
 * there, atomically with the decisions that depend on it; this index is never
 * consulted for them. A copy carries a version, so a late, older copy never
 * replaces a newer one. The index is bounded: its alarm drops copies that
 * were used, rejected or expired longer ago than the retention; a pending or
 * approved-but-unused copy is never dropped, however old (only the session
 * object may say it is settled).
 */
import { DurableObject } from "cloudflare:workers";
import { queueAlert } from "../alerts/alert-batches";
import { alertEvent } from "../alerts/alert-event";
import { toRecord, type ApprovalRow } from "./approvals";
import { APPROVAL_MIGRATIONS, migrate } from "./migrations";
import type { ApprovalRecord, ApprovalStatus } from "./types";

const COLUMNS = "id, tenant, session_id, agent_id, action_hash, action_summary, created_ms, expires_ms, decided_by, decided_ms, reason, used_by, used_ms, version, context";

/** An approver's list is a work queue, not an archive: the most recent 500. */
const LIST_LIMIT = 500;

const DAY_MS = 86_400_000;
/** How long a copy stays listed once it is used, rejected or expired. */
const RETENTION_MS = 30 * DAY_MS;
/** How often the alarm prunes while the index holds anything. */
const PRUNE_EVERY_MS = DAY_MS;

/** When a copy settled: used, rejected or expired; NULL for one that has not. */
const SETTLED_MS = `CASE status WHEN 'used' THEN COALESCE(used_ms, decided_ms, expires_ms) WHEN 'rejected' THEN COALESCE(decided_ms, expires_ms) WHEN 'expired' THEN expires_ms END`;

/** How often an open live stream gets a comment line, so proxies keep it and a gone client is noticed. */
const HEARTBEAT_MS = 20_000;

export class ApprovalsDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Open live streams (the console's inbox): each is told the id, status and version of every change. */
  private readonly listeners = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Whether this instance has seen the prune alarm set, so an upsert does not read it every time. */
  private pruneScheduled = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, APPROVAL_MIGRATIONS));
  }

  /** Takes the session objects' copies; idempotent, and an older version never overwrites a newer one. */
  async upsert(records: ApprovalRecord[]): Promise<void> {
    const ms = (at: string | null) => (at === null ? null : Date.parse(at));
    const requested: ApprovalRecord[] = [];
    for (const r of records) {
      const known = this.sql.exec("SELECT 1 FROM approvals WHERE id = ?", r.id).toArray().length > 0;
      if (!known && r.status === "pending") requested.push(r);
      this.sql.exec(
        `INSERT INTO approvals (id, tenant, session_id, agent_id, action_hash, action_summary, status, created_ms, expires_ms, decided_by, decided_ms, reason, used_by, used_ms, version, context)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, decided_by = excluded.decided_by, decided_ms = excluded.decided_ms,
           reason = excluded.reason, used_by = excluded.used_by, used_ms = excluded.used_ms, version = excluded.version
         WHERE excluded.version > approvals.version`,
        r.id,
        r.tenant,
        r.session_id,
        r.agent_id,
        r.action_hash,
        r.action_summary,
        r.status,
        Date.parse(r.created_at),
        Date.parse(r.expires_at),
        r.decided_by,
        ms(r.decided_at),
        r.reason,
        r.used_by,
        ms(r.used_at),
        r.version,
        r.context ? JSON.stringify(r.context) : null,
      );
    }
    for (const r of requested) {
      const action = (() => {
        try {
          return (JSON.parse(r.action_summary) as { tool?: string; type?: string }).tool ?? "an action";
        } catch {
          return "an action";
        }
      })();
      // Into this isolate's batch of alerts, as an edge's are: a burst of requests is one Queue send, and the
      // session object's alarm, which awaits this upsert, does not wait for the Queue.
      queueAlert(
        this.env,
        alertEvent("approval_requested", r.tenant, `${r.agent_id} asks approval for ${action} (session ${r.session_id}); it expires ${r.expires_at}`, `/console/approvals/${r.tenant}/${r.id}`, {
          approval_id: r.id,
          agent: r.agent_id,
          session: r.session_id,
          expires_at: r.expires_at,
          rules: r.context?.reasons.map((reason) => reason.rule) ?? [],
        }),
        (work) => this.ctx.waitUntil(work),
      );
    }
    for (const r of records) this.broadcast(`event: approval\ndata: ${JSON.stringify({ id: r.id, status: r.status, version: r.version })}\n\n`);
    await this.schedulePrune();
  }

  /**
   * A live stream of changes (server-sent events) for the tenant's console
   * inbox. It carries ids and statuses only: the page reads the approvals
   * themselves through its own, access-checked route.
   */
  async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname !== "/live") return new Response("not found", { status: 404 });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    this.listeners.add(writer);
    void writer.write(new TextEncoder().encode("retry: 3000\n: connected\n\n")).catch(() => this.listeners.delete(writer));
    this.heartbeat ??= setInterval(() => {
      if (this.listeners.size === 0) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
        return;
      }
      this.broadcast(": keep-alive\n\n");
    }, HEARTBEAT_MS);
    return new Response(readable, { headers: { "content-type": "text/event-stream", "cache-control": "no-store" } });
  }

  private broadcast(text: string): void {
    const bytes = new TextEncoder().encode(text);
    for (const writer of this.listeners) {
      // A client that went away fails its write; it is forgotten, the others still hear.
      writer.write(bytes).catch(() => {
        this.listeners.delete(writer);
        writer.abort().catch(() => undefined);
      });
    }
  }

  private async schedulePrune(): Promise<void> {
    if (this.pruneScheduled) return;
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + PRUNE_EVERY_MS);
    this.pruneScheduled = true;
  }

  /** Drops copies settled longer ago than the retention; comes back while anything is left. */
  async alarm(): Promise<void> {
    this.sql.exec(`DELETE FROM approvals WHERE status IN ('used', 'rejected', 'expired') AND ${SETTLED_MS} < ?`, Date.now() - RETENTION_MS);
    this.pruneScheduled = false;
    if (this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM approvals").one().n > 0) await this.schedulePrune();
  }

  /** Seconds from request to decision for approvals decided in the window (approved, rejected, used later). */
  async decisionTimes(fromMs: number, toMs: number): Promise<number[]> {
    return this.sql
      .exec<{ s: number }>("SELECT (decided_ms - created_ms) / 1000.0 AS s FROM approvals WHERE decided_ms IS NOT NULL AND decided_ms >= ? AND decided_ms < ? ORDER BY s LIMIT 10000", fromMs, toMs)
      .toArray()
      .map((row) => row.s);
  }

  /**
   * The tenant's approvals, newest first. A copy still pending past its
   * expiry is shown expired: the session's alarm may not have reported it yet.
   */
  async list(status: ApprovalStatus | undefined, nowMs: number): Promise<ApprovalRecord[]> {
    const shown = "CASE WHEN status IN ('pending', 'approved') AND expires_ms <= ? THEN 'expired' ELSE status END";
    const rows = this.sql
      .exec<ApprovalRow>(`SELECT ${COLUMNS}, ${shown} AS status FROM approvals WHERE ? IS NULL OR ${shown} = ? ORDER BY created_ms DESC, id LIMIT ?`, nowMs, status ?? null, nowMs, status ?? null, LIST_LIMIT)
      .toArray();
    return rows.map(toRecord);
  }
}

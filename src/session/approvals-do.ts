/**
 * @module approvals-do
 * One Durable Object per tenant holding its approvals, so an approver lists a
 * tenant's pending actions in one place. An approval is bound to the hash of
 * the exact action, expires, and is consumed atomically: it allows that
 * action once. Agents can wait on it (long-poll); an alarm expires what was
 * never decided.
 */
import { DurableObject } from "cloudflare:workers";
import { APPROVAL_MIGRATIONS, migrate } from "./migrations";
import type { ApprovalRecord, CommitRequest } from "./types";

type Row = {
  id: string;
  tenant: string;
  session_id: string;
  agent_id: string;
  action_hash: string;
  action_summary: string;
  status: ApprovalRecord["status"];
  created_ms: number;
  expires_ms: number;
  decided_by: string | null;
  decided_ms: number | null;
  reason: string | null;
};

function toRecord(row: Row): ApprovalRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    session_id: row.session_id,
    agent_id: row.agent_id,
    action_hash: row.action_hash,
    action_summary: row.action_summary,
    status: row.status,
    created_at: new Date(row.created_ms).toISOString(),
    expires_at: new Date(row.expires_ms).toISOString(),
    decided_by: row.decided_by,
    decided_at: row.decided_ms === null ? null : new Date(row.decided_ms).toISOString(),
    reason: row.reason,
  };
}

export class ApprovalsDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly waiters = new Map<string, Array<(record: ApprovalRecord) => void>>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, APPROVAL_MIGRATIONS));
  }

  private row(id: string): Row | undefined {
    return this.sql.exec<Row>("SELECT * FROM approvals WHERE id = ?", id).toArray()[0] as Row | undefined;
  }

  /** A pending approval for this exact action; an identical pending one is reused rather than duplicated. */
  async create(request: CommitRequest): Promise<ApprovalRecord> {
    const existing = this.sql
      .exec<Row>("SELECT * FROM approvals WHERE action_hash = ? AND status = 'pending' AND expires_ms > ?", request.action_hash, request.now_ms)
      .toArray()[0] as Row | undefined;
    if (existing) return toRecord(existing);
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    const id = `apr_${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
    const expires = request.now_ms + request.approval_ttl_s * 1000;
    this.sql.exec(
      "INSERT INTO approvals (id, tenant, session_id, agent_id, action_hash, action_summary, status, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
      id,
      request.tenant,
      request.session_id,
      request.agent_id,
      request.action_hash,
      request.action_summary,
      request.now_ms,
      expires,
    );
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > expires) await this.ctx.storage.setAlarm(expires);
    return toRecord(this.row(id)!);
  }

  async get(id: string): Promise<ApprovalRecord | null> {
    const row = this.row(id);
    return row ? toRecord(row) : null;
  }

  async list(status?: ApprovalRecord["status"]): Promise<ApprovalRecord[]> {
    const rows = status
      ? this.sql.exec<Row>("SELECT * FROM approvals WHERE status = ? ORDER BY created_ms DESC LIMIT 500", status).toArray()
      : this.sql.exec<Row>("SELECT * FROM approvals ORDER BY created_ms DESC LIMIT 500").toArray();
    return (rows as Row[]).map(toRecord);
  }

  async decide(id: string, outcome: "approved" | "rejected", by: string, reason: string, nowMs: number): Promise<{ ok: true; record: ApprovalRecord } | { ok: false; why: string }> {
    const row = this.row(id);
    if (!row) return { ok: false, why: "no such approval" };
    if (row.status !== "pending") return { ok: false, why: `it is already ${row.status}` };
    if (row.expires_ms <= nowMs) return { ok: false, why: "it has expired" };
    this.sql.exec("UPDATE approvals SET status = ?, decided_by = ?, decided_ms = ?, reason = ? WHERE id = ?", outcome, by, nowMs, reason, id);
    const record = toRecord(this.row(id)!);
    this.wake(record);
    return { ok: true, record };
  }

  /** Uses an approved approval for exactly the action it was granted for; single use. */
  async consume(id: string, actionHash: string, nowMs: number): Promise<{ ok: true; expires_at: string } | { ok: false; why: string }> {
    const row = this.row(id);
    if (!row) return { ok: false, why: "no such approval" };
    if (row.action_hash !== actionHash) return { ok: false, why: "it was granted for a different action" };
    if (row.status === "used") return { ok: false, why: "it has already been used" };
    if (row.status !== "approved") return { ok: false, why: `it is ${row.status}` };
    if (row.expires_ms <= nowMs) return { ok: false, why: "it has expired" };
    this.sql.exec("UPDATE approvals SET status = 'used' WHERE id = ?", id);
    return { ok: true, expires_at: new Date(row.expires_ms).toISOString() };
  }

  /** Long-poll: resolves when the approval is decided (or expires), or after `timeoutMs` with its current state. */
  async waitFor(id: string, timeoutMs: number): Promise<ApprovalRecord | null> {
    const row = this.row(id);
    if (!row || row.status !== "pending") return row ? toRecord(row) : null;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(toRecord(this.row(id)!)), timeoutMs);
      const list = this.waiters.get(id) ?? [];
      list.push((record) => {
        clearTimeout(timer);
        resolve(record);
      });
      this.waiters.set(id, list);
    });
  }

  private wake(record: ApprovalRecord): void {
    for (const resolve of this.waiters.get(record.id) ?? []) resolve(record);
    this.waiters.delete(record.id);
  }

  async alarm(): Promise<void> {
    const now = Date.now();
    const expired = this.sql.exec<Row>("SELECT * FROM approvals WHERE status = 'pending' AND expires_ms <= ?", now).toArray() as Row[];
    this.sql.exec("UPDATE approvals SET status = 'expired' WHERE status = 'pending' AND expires_ms <= ?", now);
    for (const row of expired) this.wake(toRecord({ ...row, status: "expired" }));
    const next = this.sql.exec<{ at: number | null }>("SELECT MIN(expires_ms) AS at FROM approvals WHERE status = 'pending'").one().at;
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }
}

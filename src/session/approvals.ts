/**
 * @module approvals
 * Approvals in the session object's SQLite. An approval is bound to the hash
 * of one exact action (tenant, agent, session, action), expires, and is used
 * at most once; it lives with the session so that checking and consuming it
 * is part of the same atomic commit as the budget debit: an approval is only
 * ever marked used by a decision that was actually allowed.
 *
 * Its id names the session object that holds it (`apr_<object id>_<random>`),
 * so any edge can reach it from the id alone; the random part makes it an
 * unguessable capability for the agent that asked. Changes are queued in an
 * outbox the object's alarm sends to the tenant's index (ApprovalsDO), where
 * approvers list them.
 */
import { APPROVAL_ID_PATTERN } from "../schema/approval-id";
import type { ApprovalContext, ApprovalRecord, CommitRequest } from "./types";
import { randomHex } from "../../packages/agent/src/hex.ts";

/** The session object that holds an approval, or undefined for a malformed id. */
export function approvalObjectId(id: string): string | undefined {
  return APPROVAL_ID_PATTERN.exec(id)?.[1];
}

/** The stored row: the record's identity fields as they are, its times as epoch milliseconds. */
export type ApprovalRow = Pick<ApprovalRecord, "id" | "tenant" | "session_id" | "agent_id" | "action_hash" | "action_summary" | "status" | "decided_by" | "reason" | "used_by" | "version"> & {
  created_ms: number;
  expires_ms: number;
  decided_ms: number | null;
  used_ms: number | null;
  /** ApprovalContext as JSON; null for rows from before it was kept. */
  context: string | null;
};

function contextOf(text: string | null): ApprovalContext | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as ApprovalContext;
  } catch {
    return null;
  }
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function toRecord(row: ApprovalRow): ApprovalRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    session_id: row.session_id,
    agent_id: row.agent_id,
    action_hash: row.action_hash,
    action_summary: row.action_summary,
    status: row.status,
    created_at: iso(row.created_ms)!,
    expires_at: iso(row.expires_ms)!,
    decided_by: row.decided_by,
    decided_at: iso(row.decided_ms),
    reason: row.reason,
    used_by: row.used_by,
    used_at: iso(row.used_ms),
    version: row.version,
    context: contextOf(row.context),
  };
}

/** What the agent that asked sees: everything but the hash it could only misuse to probe other actions. */
export function publicView(record: ApprovalRecord): Omit<ApprovalRecord, "action_hash"> {
  const { action_hash: _hash, ...visible } = record;
  return visible;
}

export type Usable = { ok: true } | { ok: false; why: string };

export class Approvals {
  private dirty = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly objectId: string,
  ) {}

  /** Reads one approval; a pending or approved one past its expiry is expired first. */
  row(id: string, now: number): ApprovalRow | undefined {
    this.expireDue(now, id);
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).toArray()[0];
  }

  /** This session's approvals, newest first, for an operator's view. */
  all(now: number): ApprovalRow[] {
    this.expireDue(now);
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals ORDER BY created_ms DESC LIMIT 100").toArray();
  }

  /** The agent's approvals created at or after `sinceMs`, newest first (at most 100), for the MCP gateway's elicitation notices. */
  askedSince(agentId: string, sinceMs: number): Array<Pick<ApprovalRow, "id" | "status">> {
    return this.sql
      .exec<Pick<ApprovalRow, "id" | "status">>("SELECT id, status FROM approvals WHERE agent_id = ? AND created_ms >= ? ORDER BY created_ms DESC LIMIT 100", agentId, sinceMs)
      .toArray();
  }

  /** A pending approval for this exact action, reused rather than duplicated when the agent asks again. */
  private pendingFor(actionHash: string, now: number): ApprovalRow | undefined {
    return this.sql
      .exec<ApprovalRow>("SELECT * FROM approvals WHERE action_hash = ? AND status = 'pending' AND expires_ms > ? ORDER BY created_ms LIMIT 1", actionHash, now)
      .toArray()[0];
  }

  create(request: CommitRequest): ApprovalRow {
    const existing = this.pendingFor(request.action_hash, request.now_ms);
    if (existing) return existing;
    const random = randomHex(12);
    const id = `apr_${this.objectId}_${random}`;
    this.sql.exec(
      "INSERT INTO approvals (id, tenant, session_id, agent_id, action_hash, action_summary, status, created_ms, expires_ms, version, context) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, 1, ?)",
      id,
      request.tenant,
      request.session_id,
      request.agent_id,
      request.action_hash,
      request.action_summary ?? "{}",
      request.now_ms,
      request.now_ms + request.approval_ttl_s * 1000,
      request.approval_context ? JSON.stringify(request.approval_context) : null,
    );
    this.changed(id);
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).one();
  }

  /** The oldest approved, unused, unexpired approval for this exact action, if any. */
  approvedFor(actionHash: string, now: number): string | undefined {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM approvals WHERE action_hash = ? AND status = 'approved' AND expires_ms > ? ORDER BY created_ms LIMIT 1", actionHash, now)
      .toArray()[0]?.id;
  }

  /**
   * Whether this approval may allow this exact action now. Checks only; `use`
   * consumes. `asking`: the rules that ask for approval now. An approval
   * covers the reasons its approver saw: a rule that asks now but did not
   * then (the session read PII since) is not approved by it.
   */
  usable(id: string, actionHash: string, now: number, asking: string[] = []): Usable {
    const row = this.row(id, now);
    if (!row) return { ok: false, why: "no such approval in this session" };
    if (row.action_hash !== actionHash) return { ok: false, why: "it was granted for a different action" };
    if (row.status === "used") return { ok: false, why: "it has already been used" };
    if (row.status !== "approved") return { ok: false, why: `it is ${row.status}` };
    const approved = contextOf(row.context)?.reasons.map((reason) => reason.rule);
    const unseen = approved ? asking.filter((rule) => !approved.includes(rule)) : [];
    if (unseen.length > 0) return { ok: false, why: `its approver did not see why it now needs approval (${[...new Set(unseen)].sort().join(", ")})` };
    return { ok: true };
  }

  use(id: string, decisionId: string, now: number): ApprovalRow {
    this.sql.exec("UPDATE approvals SET status = 'used', used_by = ?, used_ms = ?, version = version + 1 WHERE id = ?", decisionId, now, id);
    this.changed(id);
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).one();
  }

  /** Takes back a use (its decision was undone): the approval is approved again, for the same action. */
  unuse(id: string, decisionId: string): void {
    if (this.sql.exec("UPDATE approvals SET status = 'approved', used_by = NULL, used_ms = NULL, version = version + 1 WHERE id = ? AND used_by = ?", id, decisionId).rowsWritten > 0) {
      this.changed(id);
    }
  }

  /** An approver's decision on a pending approval of `tenant`. */
  decide(id: string, tenant: string, outcome: "approved" | "rejected", by: string, reason: string, now: number): { ok: true; row: ApprovalRow } | { ok: false; status: 404 | 409; why: string } {
    const row = this.row(id, now);
    // Another tenant's approval is reported as absent: an approver learns nothing about it.
    if (!row || row.tenant !== tenant) return { ok: false, status: 404, why: "no such approval" };
    if (row.status !== "pending") return { ok: false, status: 409, why: `it is already ${row.status}` };
    this.sql.exec("UPDATE approvals SET status = ?, decided_by = ?, decided_ms = ?, reason = ?, version = version + 1 WHERE id = ?", outcome, by, now, reason, id);
    this.changed(id);
    return { ok: true, row: this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).one() };
  }

  /** Expires what is past its time (one approval, or all); returns what changed. */
  expireDue(now: number, id?: string): ApprovalRow[] {
    const due = (
      id === undefined
        ? this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE status IN ('pending', 'approved') AND expires_ms <= ?", now)
        : this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ? AND status IN ('pending', 'approved') AND expires_ms <= ?", id, now)
    ).toArray();
    for (const row of due) {
      this.sql.exec("UPDATE approvals SET status = 'expired', version = version + 1 WHERE id = ?", row.id);
      this.changed(row.id);
    }
    return due.map((row) => ({ ...row, status: "expired" as const, version: row.version + 1 }));
  }

  /** When the next approval expires, if any is still open. */
  nextExpiry(): number | undefined {
    return this.sql.exec<{ at: number | null }>("SELECT MIN(expires_ms) AS at FROM approvals WHERE status IN ('pending', 'approved')").one().at ?? undefined;
  }

  private changed(id: string): void {
    this.sql.exec("INSERT OR IGNORE INTO outbox (approval_id) VALUES (?)", id);
    this.dirty = true;
  }

  /** Whether anything was queued for the index since the last call. */
  takeChanged(): boolean {
    const was = this.dirty;
    this.dirty = false;
    return was;
  }

  /** Approvals whose index copy is behind, as they are now. */
  outbox(): ApprovalRecord[] {
    return this.sql.exec<ApprovalRow>("SELECT approvals.* FROM outbox JOIN approvals ON approvals.id = outbox.approval_id").toArray().map(toRecord);
  }

  /** Drops outbox entries the index has taken, unless they changed again meanwhile (a newer version is still owed). */
  sent(records: ApprovalRecord[]): void {
    for (const record of records) {
      this.sql.exec("DELETE FROM outbox WHERE approval_id = ? AND (SELECT version FROM approvals WHERE id = ?) = ?", record.id, record.id, record.version);
    }
  }

  hasOutbox(): boolean {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n > 0;
  }
}

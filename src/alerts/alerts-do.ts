/**
 * @module alerts-do
 * One Durable Object per tenant: its alert webhooks and the record of every
 * delivery attempt (delivered, failed with when the next try is, given up).
 * A webhook's secret is made here, shown once when it is created, and kept
 * only to sign deliveries; listings never carry it. The record is bounded:
 * the newest deliveries are kept, older ones dropped in order.
 */
import { DurableObject } from "cloudflare:workers";
import { randomHex } from "../../packages/agent/src/hex.ts";
import { migrate, type Migration } from "../session/migrations";
import { ALERT_EVENTS, type AlertEventType } from "./alert-event";
import type { WebhookTarget } from "./webhook-delivery";

const MIGRATIONS: Migration[] = [
  [
    "CREATE TABLE webhooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL, format TEXT NOT NULL, secret TEXT NOT NULL, created_ms INTEGER NOT NULL, created_by TEXT NOT NULL)",
    "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL, webhook_id TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, attempt INTEGER NOT NULL, outcome TEXT NOT NULL, http_status INTEGER, error TEXT, next_attempt_ms INTEGER, at_ms INTEGER NOT NULL)",
  ],
];

/** A tenant has at most this many webhooks, and the record keeps this many attempts. */
export const MAX_WEBHOOKS = 20;
const KEPT_DELIVERIES = 2_000;

export interface WebhookView {
  id: string;
  url: string;
  events: AlertEventType[];
  format: WebhookTarget["format"];
  created_at: string;
  created_by: string;
}

export interface DeliveryRecord {
  delivery_id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  outcome: "delivered" | "failed" | "given_up";
  http_status: number | null;
  error: string | null;
  next_attempt_at: string | null;
  at: string;
}

type WebhookRow = { id: string; url: string; events: string; format: string; secret: string; created_ms: number; created_by: string };

function eventsOf(text: string): AlertEventType[] {
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? parsed.filter((e): e is AlertEventType => (ALERT_EVENTS as readonly unknown[]).includes(e)) : [];
  } catch {
    return [];
  }
}

function view(row: WebhookRow): WebhookView {
  return { id: row.id, url: row.url, events: eventsOf(row.events), format: row.format === "slack" ? "slack" : "tollgate", created_at: new Date(row.created_ms).toISOString(), created_by: row.created_by };
}

export class AlertsDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  async create(input: { url: string; events: AlertEventType[]; format: WebhookTarget["format"] }, by: string): Promise<{ ok: true; webhook: WebhookView; secret: string } | { ok: false; message: string }> {
    const count = this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhooks").one().n;
    if (count >= MAX_WEBHOOKS) return { ok: false, message: `a tenant has at most ${MAX_WEBHOOKS} webhooks; delete one first` };
    const row: WebhookRow = { id: `wh_${randomHex(8)}`, url: input.url, events: JSON.stringify(input.events), format: input.format, secret: `whsec_${randomHex(24)}`, created_ms: Date.now(), created_by: by };
    this.sql.exec("INSERT INTO webhooks (id, url, events, format, secret, created_ms, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)", row.id, row.url, row.events, row.format, row.secret, row.created_ms, row.created_by);
    return { ok: true, webhook: view(row), secret: row.secret };
  }

  async remove(id: string): Promise<boolean> {
    return this.sql.exec("DELETE FROM webhooks WHERE id = ?", id).rowsWritten > 0;
  }

  async list(): Promise<WebhookView[]> {
    return this.sql.exec<WebhookRow>("SELECT * FROM webhooks ORDER BY created_ms").toArray().map(view);
  }

  /** The webhooks an event goes to, with their secrets (for the Queue's consumer only). */
  async targetsFor(type: AlertEventType): Promise<WebhookTarget[]> {
    return this.sql
      .exec<WebhookRow>("SELECT * FROM webhooks")
      .toArray()
      .filter((row) => eventsOf(row.events).includes(type))
      .map((row) => ({ id: row.id, url: row.url, format: row.format === "slack" ? "slack" : "tollgate", secret: row.secret }));
  }

  async target(id: string): Promise<WebhookTarget | null> {
    const row = this.sql.exec<WebhookRow>("SELECT * FROM webhooks WHERE id = ?", id).toArray()[0];
    return row ? { id: row.id, url: row.url, format: row.format === "slack" ? "slack" : "tollgate", secret: row.secret } : null;
  }

  async record(entry: Omit<DeliveryRecord, "at" | "next_attempt_at"> & { next_attempt_ms: number | null }): Promise<void> {
    this.sql.exec(
      "INSERT INTO deliveries (delivery_id, webhook_id, event_id, event_type, attempt, outcome, http_status, error, next_attempt_ms, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      entry.delivery_id,
      entry.webhook_id,
      entry.event_id,
      entry.event_type,
      entry.attempt,
      entry.outcome,
      entry.http_status,
      entry.error,
      entry.next_attempt_ms,
      Date.now(),
    );
    this.sql.exec("DELETE FROM deliveries WHERE seq <= (SELECT MAX(seq) FROM deliveries) - ?", KEPT_DELIVERIES);
  }

  /** The newest delivery attempts first. */
  async deliveries(limit = 100): Promise<DeliveryRecord[]> {
    return this.sql
      .exec<{ delivery_id: string; webhook_id: string; event_id: string; event_type: string; attempt: number; outcome: DeliveryRecord["outcome"]; http_status: number | null; error: string | null; next_attempt_ms: number | null; at_ms: number }>(
        "SELECT delivery_id, webhook_id, event_id, event_type, attempt, outcome, http_status, error, next_attempt_ms, at_ms FROM deliveries ORDER BY seq DESC LIMIT ?",
        Math.max(1, Math.min(limit, 500)),
      )
      .toArray()
      .map(({ next_attempt_ms, at_ms, ...rest }) => ({ ...rest, next_attempt_at: next_attempt_ms === null ? null : new Date(next_attempt_ms).toISOString(), at: new Date(at_ms).toISOString() }));
  }
}

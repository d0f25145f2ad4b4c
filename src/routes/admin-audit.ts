/**
 * @module admin-audit
 * The decision log for auditors, scoped by tenant:
 *
 *   GET /v1/admin/audit/records?tenant=&decision_id=&decision=&session=&agent=&rule=&from=&to=&limit=&after_seq=
 *                                           in sequence order; `next_after_seq` in the answer pages on
 *   GET /v1/admin/audit/export?tenant=      every sealed segment with its signed digest, for `tollgate audit verify`
 *   GET /v1/admin/audit/status[?tenant=]    loss counters (never silently zero: every failure path counts)
 */
import { Hono } from "hono";
import { segmentKey, type SegmentDigest } from "../audit/chain";
import type { AuditPage } from "../audit/chain-do";
import { chainFor, METRICS_SHARD } from "../audit/writer";
import { ApiError } from "../errors";
import type { AdminVariables } from "../middleware/admin-auth";
import { tenantParam } from "./admin-params";

function timeQuery(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ApiError(400, "invalid_input", `${name} must be an ISO 8601 time`, name);
  return ms;
}

const OUTCOMES = ["allow", "deny", "require_approval"];

function outcomeQuery(value: string | undefined): string | undefined {
  if (value !== undefined && !OUTCOMES.includes(value)) throw new ApiError(400, "invalid_input", `decision is one of ${OUTCOMES.join(", ")}`, "decision");
  return value;
}

function integerQuery(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new ApiError(400, "invalid_input", `${name} must be a non-negative integer`, name);
  return Number(value);
}

export const adminAuditRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .get("/audit/records", async (c) => {
    const tenant = tenantParam(c.req.query("tenant"));
    const page: AuditPage = await chainFor(c.env, tenant).query({
      decision_id: c.req.query("decision_id"),
      decision: outcomeQuery(c.req.query("decision")),
      session: c.req.query("session"),
      agent: c.req.query("agent"),
      rule: c.req.query("rule"),
      from_ms: timeQuery(c.req.query("from"), "from"),
      to_ms: timeQuery(c.req.query("to"), "to"),
      limit: integerQuery(c.req.query("limit"), "limit"),
      after_seq: integerQuery(c.req.query("after_seq"), "after_seq"),
    });
    return c.json({ tenant, ...page });
  })
  .get("/audit/export", async (c) => {
    const tenant = tenantParam(c.req.query("tenant"));
    // Seal what is pending so the export covers every record written so far; if sealing
    // fails (no signing key, R2 down) the export still returns what is sealed and says so.
    const pending = await chainFor(c.env, tenant).sealPending();
    const listed = await c.env.AUDIT_LOG.list({ prefix: `audit/${tenant}/digests/` });
    if (listed.truncated) throw new ApiError(413, "export_too_large", "the log has more than 1,000 sealed segments; one export cannot return them all");
    const segments = [];
    for (const object of listed.objects.sort((a, b) => a.key.localeCompare(b.key))) {
      const digest = (await (await c.env.AUDIT_LOG.get(object.key))!.json()) as { document: SegmentDigest; signature: string };
      const segment = await c.env.AUDIT_LOG.get(segmentKey(tenant, digest.document.segment));
      segments.push({ digest, text: segment ? await segment.text() : "" });
    }
    return c.json({ shard: tenant, segments, ...(pending.unsealed > 0 ? { pending } : {}) });
  })
  .get("/audit/status", async (c) => {
    const tenant = c.req.query("tenant") === undefined ? undefined : tenantParam(c.req.query("tenant"));
    const counters = await chainFor(c.env, METRICS_SHARD).counters();
    const shard = tenant ? await chainFor(c.env, tenant).stats() : undefined;
    return c.json({ counters: { queue_send_failures: 0, append_retries: 0, records_lost: 0, ...counters }, ...(shard ? { shard } : {}) });
  });

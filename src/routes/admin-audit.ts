/**
 * @module admin-audit
 * The decision log for auditors, scoped by tenant:
 *
 *   GET /v1/admin/audit/records?tenant=&decision_id=&session=&agent=&rule=&from=&to=&limit=
 *   GET /v1/admin/audit/export?tenant=      every sealed segment with its signed digest, for `tollgate audit verify`
 *   GET /v1/admin/audit/status[?tenant=]    loss counters (never silently zero: every failure path counts)
 */
import { Hono } from "hono";
import { segmentKey, type SegmentDigest } from "../audit/chain";
import { chainFor, METRICS_SHARD } from "../audit/writer";
import { ApiError } from "../errors";
import { adminAuth, principalOf, requireGrant, type AdminVariables } from "../middleware/admin-auth";

function tenantQuery(value: string | undefined): string {
  if (!value || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(value)) throw new ApiError(400, "invalid_input", "tenant is required: lowercase letters, digits and dashes", "tenant");
  return value;
}

function timeQuery(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ApiError(400, "invalid_input", `${name} must be an ISO 8601 time`, name);
  return ms;
}

export const adminAuditRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .use(adminAuth())
  .get("/audit/records", async (c) => {
    const tenant = tenantQuery(c.req.query("tenant"));
    requireGrant(principalOf(c), "auditor", `tenant:${tenant}`);
    const records = await chainFor(c.env, tenant).query({
      decision_id: c.req.query("decision_id"),
      session: c.req.query("session"),
      agent: c.req.query("agent"),
      rule: c.req.query("rule"),
      from_ms: timeQuery(c.req.query("from"), "from"),
      to_ms: timeQuery(c.req.query("to"), "to"),
      limit: c.req.query("limit") ? Number(c.req.query("limit")) : undefined,
    });
    return c.json({ tenant, records });
  })
  .get("/audit/export", async (c) => {
    const tenant = tenantQuery(c.req.query("tenant"));
    requireGrant(principalOf(c), "auditor", `tenant:${tenant}`);
    // Seal what is pending so the export covers every record written so far.
    const chain = chainFor(c.env, tenant);
    while ((await chain.seal()) > 0);
    const listed = await c.env.AUDIT_LOG.list({ prefix: `audit/${tenant}/digests/` });
    const segments = [];
    for (const object of listed.objects.sort((a, b) => a.key.localeCompare(b.key))) {
      const digest = (await (await c.env.AUDIT_LOG.get(object.key))!.json()) as { document: SegmentDigest; signature: string };
      const segment = await c.env.AUDIT_LOG.get(segmentKey(tenant, digest.document.segment));
      segments.push({ digest, text: segment ? await segment.text() : "" });
    }
    if (listed.truncated) throw new ApiError(413, "export_too_large", "more segments than one export returns; export a narrower range");
    return c.json({ shard: tenant, segments });
  })
  .get("/audit/status", async (c) => {
    const principal = principalOf(c);
    const tenant = c.req.query("tenant");
    requireGrant(principal, principal.roles.includes("auditor") ? "auditor" : "operator", tenant ? `tenant:${tenant}` : "global");
    const counters = await chainFor(c.env, METRICS_SHARD).counters();
    const shard = tenant ? await chainFor(c.env, tenantQuery(tenant)).stats() : undefined;
    return c.json({ counters: { queue_send_failures: 0, append_retries: 0, records_lost: 0, ...counters }, ...(shard ? { shard } : {}) });
  });

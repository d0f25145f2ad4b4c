/**
 * @module admin-sessions
 * Operators and approvers act on session state, scoped by tenant:
 *
 *   GET  /v1/admin/sessions/:tenant/:session                 usage, breaker, registered sub-agents (operator)
 *   POST /v1/admin/sessions/:tenant/:session/breaker/reset   close a session's breaker (operator)
 *   POST /v1/admin/agents/:tenant/:agent/breaker/reset       close an agent's breakers (operator)
 *   GET  /v1/admin/approvals/:tenant[?status=pending]        a tenant's approvals (approver)
 *   POST /v1/admin/approvals/:tenant/:id                     {decision: approve|reject, reason} (approver)
 *
 * A token scoped to one tenant sees and acts on that tenant only (403 otherwise).
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../errors";
import { adminAuth, principalOf, requireGrant, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";

const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;
const APPROVAL_ID = /^apr_[0-9a-f]{24}$/;

function tenantParam(tenant: string): string {
  if (!TENANT.test(tenant)) throw new ApiError(400, "invalid_tenant", "tenant ids are lowercase letters, digits and dashes");
  return tenant;
}

const decisionBody = z.strictObject({ decision: z.enum(["approve", "reject"]), reason: z.string().min(1).max(1000) });
const STATUSES = ["pending", "approved", "rejected", "used", "expired"] as const;

export const adminSessionsRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .use(adminAuth())
  .get("/sessions/:tenant/:session", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    requireGrant(principalOf(c), "operator", `tenant:${tenant}`);
    const stub = c.env.SESSIONS.get(c.env.SESSIONS.idFromName(`${tenant}/${c.req.param("session")}`));
    return c.json(await stub.view());
  })
  .post("/sessions/:tenant/:session/breaker/reset", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const principal = principalOf(c);
    requireGrant(principal, "operator", `tenant:${tenant}`);
    const stub = c.env.SESSIONS.get(c.env.SESSIONS.idFromName(`${tenant}/${c.req.param("session")}`));
    const result = await stub.resetBreaker();
    console.log(`breaker reset: tenant=${tenant} session=${c.req.param("session")} by=${principal.subject}`);
    return c.json({ ...result, reset_by: principal.subject });
  })
  .post("/agents/:tenant/:agent/breaker/reset", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const principal = principalOf(c);
    requireGrant(principal, "operator", `tenant:${tenant}`);
    const stub = c.env.AGENTS.get(c.env.AGENTS.idFromName(`${tenant}/${c.req.param("agent")}`));
    return c.json({ ...(await stub.reset()), reset_by: principal.subject });
  })
  .get("/approvals/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    requireGrant(principalOf(c), "approver", `tenant:${tenant}`);
    const status = c.req.query("status");
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw new ApiError(400, "invalid_status", `status is one of ${STATUSES.join(", ")}`);
    }
    const stub = c.env.APPROVALS.get(c.env.APPROVALS.idFromName(tenant));
    return c.json({ approvals: await stub.list(status as (typeof STATUSES)[number] | undefined) });
  })
  .post("/approvals/:tenant/:id", jsonBody(8 * 1024), async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const principal = principalOf(c);
    requireGrant(principal, "approver", `tenant:${tenant}`);
    const id = c.req.param("id");
    if (!APPROVAL_ID.test(id)) throw new ApiError(400, "invalid_approval_id", "approval ids look like apr_<24 hex digits>");
    const parsed = decisionBody.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError(400, "invalid_input", `${issue.path.join(".") || "body"}: ${issue.message}`, issue.path.join("."));
    }
    const stub = c.env.APPROVALS.get(c.env.APPROVALS.idFromName(tenant));
    const outcome = parsed.data.decision === "approve" ? "approved" : "rejected";
    const result = await stub.decide(id, outcome, principal.subject, parsed.data.reason, Date.now());
    if (!result.ok) throw new ApiError(result.why === "no such approval" ? 404 : 409, "approval_not_pending", `approval ${id}: ${result.why}`);
    return c.json(result.record);
  });

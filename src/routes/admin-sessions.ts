/**
 * @module admin-sessions
 * Operators act on session state, scoped by tenant:
 *
 *   GET  /v1/admin/sessions/:tenant/:session                 usage, breaker and its resets, lineage,
 *                                                            sub-agents, approvals (operator)
 *   POST /v1/admin/sessions/:tenant/:session/breaker/reset   close a session's breaker (operator)
 *   GET  /v1/admin/agents/:tenant/:agent                     the agent's open breakers (operator)
 *   POST /v1/admin/agents/:tenant/:agent/breaker/reset       close an agent's breakers (operator)
 *
 * A token scoped to one tenant sees and acts on that tenant only (403
 * otherwise). Approvals have their own routes (routes/approvals.ts).
 */
import { Hono } from "hono";
import { ApiError } from "../errors";
import { adminAuth, principalOf, requireGrant, type AdminVariables } from "../middleware/admin-auth";

const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;

function tenantParam(tenant: string): string {
  if (!TENANT.test(tenant)) throw new ApiError(400, "invalid_tenant", "tenant ids are lowercase letters, digits and dashes");
  return tenant;
}

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
    return c.json(await stub.resetBreaker(principal.subject));
  })
  .get("/agents/:tenant/:agent", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    requireGrant(principalOf(c), "operator", `tenant:${tenant}`);
    const stub = c.env.AGENTS.get(c.env.AGENTS.idFromName(`${tenant}/${c.req.param("agent")}`));
    return c.json(await stub.view());
  })
  .post("/agents/:tenant/:agent/breaker/reset", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const principal = principalOf(c);
    requireGrant(principal, "operator", `tenant:${tenant}`);
    const stub = c.env.AGENTS.get(c.env.AGENTS.idFromName(`${tenant}/${c.req.param("agent")}`));
    return c.json({ ...(await stub.reset()), reset_by: principal.subject });
  });

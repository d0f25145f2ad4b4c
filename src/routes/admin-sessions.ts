/**
 * @module admin-sessions
 * Operators act on session state, scoped by tenant:
 *
 *   GET  /v1/admin/sessions/:tenant/:agent/:session                usage, breaker and its resets,
 *                                                                  lineage, sub-agents, approvals
 *   POST /v1/admin/sessions/:tenant/:agent/:session/breaker/reset  close a session's breaker
 *   GET  /v1/admin/breakers/:tenant                                the tenant's session breakers, open first
 *                                                                  (from its breaker index)
 *   GET  /v1/admin/agents/:tenant/:agent/breakers                  the agent's open breakers
 *   POST /v1/admin/agents/:tenant/:agent/breaker/reset             close an agent's breakers
 *
 * All need the operator role on the tenant. Sessions belong to an agent:
 * the same session id under two agents is two sessions.
 *
 * A token scoped to one tenant sees and acts on that tenant only (403
 * otherwise). Approvals have their own routes (routes/approvals.ts).
 */
import { Hono, type Context } from "hono";
import { principalOf, type AdminVariables, type Principal } from "../middleware/admin-auth";
import { agentObject, breakerIndex, sessionObject } from "../session/objects";
import { tenantParam } from "./admin-params";

type AdminContext = Context<{ Bindings: Env; Variables: AdminVariables }, "/:tenant/*">;

/** The path's tenant and who acts on it; the admin gate has checked they are its operator. */
function operated(c: AdminContext): { tenant: string; principal: Principal } {
  const tenant = tenantParam(c.req.param("tenant"));
  const principal = principalOf(c);
  return { tenant, principal };
}

export const adminSessionsRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .get("/breakers/:tenant", async (c) => {
    const { tenant } = operated(c);
    return c.json({ breakers: await breakerIndex(c.env, tenant).list() });
  })
  .get("/sessions/:tenant/:agent/:session", async (c) => {
    const { tenant } = operated(c);
    return c.json(await sessionObject(c.env, tenant, c.req.param("agent"), c.req.param("session")).view());
  })
  .post("/sessions/:tenant/:agent/:session/breaker/reset", async (c) => {
    const { tenant, principal } = operated(c);
    return c.json(await sessionObject(c.env, tenant, c.req.param("agent"), c.req.param("session")).resetBreaker(principal.subject));
  })
  .get("/agents/:tenant/:agent/breakers", async (c) => {
    const { tenant } = operated(c);
    return c.json(await agentObject(c.env, tenant, c.req.param("agent")).view());
  })
  .post("/agents/:tenant/:agent/breaker/reset", async (c) => {
    const { tenant, principal } = operated(c);
    return c.json({ ...(await agentObject(c.env, tenant, c.req.param("agent")).reset()), reset_by: principal.subject });
  });

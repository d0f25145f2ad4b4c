/**
 * @module leases
 * Budget leases over HTTP, for agents that may decide offline (the SDK asks
 * for one while it can reach the edge):
 *
 *   POST /v1/leases                {"session": "…"}   a slice of the session's remaining budget
 *   POST /v1/leases/:id/release    {"session": "…"}   what it did not spend goes back
 *
 * The agent is the credential's; the session object is the agent's own, so
 * no one can take or release a lease of another agent or tenant. What may
 * be leased, and for how long, is the governing policy's data (offline
 * tiers, window and share); a policy that permits no offline decisions
 * leases nothing (403), and a session whose breaker is open or whose budget
 * is spent gets none (409).
 */
import { Hono } from "hono";
import { z } from "zod";
import { governingPolicy } from "../decision/pipeline";
import { locationOf } from "../decision/region";
import { fallbackParams } from "../engine/fallback-params";
import { receiptParams } from "../engine/receipt-params";
import { ApiError } from "../errors";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";
import { jsonBody } from "../middleware/json-body";
import { sessionObject } from "../session/objects";
import { readJson, validated } from "./request-body";

const sessionBody = z.strictObject({ session: z.string().min(1).max(256) });
const LEASE_ID = /^lse_[0-9a-f]{24}$/;

export const leasesRoute = new Hono<AgentEnv>()
  .post("/", agentAuth(), jsonBody(4 * 1024), async (c) => {
    const identity = identityOf(c);
    const { session } = validated(sessionBody, await readJson(c));
    const now = Date.now();
    const { resolution } = await governingPolicy(c.env, c.executionCtx, identity.tenant, locationOf(c.req.raw), now);
    if (resolution.unusable) throw new ApiError(503, resolution.unusable.code, `no lease on a policy that may not be used: ${resolution.unusable.message}`);
    const offline = receiptParams(resolution.policy.data).offline;
    if (offline.tiers.length === 0 || offline.max_window_s <= 0 || offline.lease_fraction <= 0) {
      throw new ApiError(403, "offline_not_permitted", "the governing policy permits no offline decisions, so there is nothing to lease");
    }
    // The budget does not depend on the tier; the limits are the role's, most restrictive across layers.
    const limits = fallbackParams(resolution.policy.data, "low", identity.role, undefined).budget.limits;
    const result = await sessionObject(c.env, identity.tenant, identity.agent, session).grantLease({
      agent_id: identity.agent,
      limits,
      fraction: offline.lease_fraction,
      ttl_s: offline.max_window_s,
      now_ms: now,
    });
    if (!result.ok) throw new ApiError(409, result.code, result.message);
    const { lease, usage, reused } = result;
    return c.json(
      { lease_id: lease.id, session, granted: lease.granted, spent: lease.spent, expires_at: lease.expires_at, usage, limits, offline, policy_key: resolution.policy.key },
      reused ? 200 : 201,
    );
  })
  .post("/:id/release", agentAuth(), jsonBody(4 * 1024), async (c) => {
    const identity = identityOf(c);
    const id = c.req.param("id");
    if (!LEASE_ID.test(id)) throw new ApiError(400, "invalid_lease_id", "lease ids look like lse_<24 hex digits>");
    const { session } = validated(sessionBody, await readJson(c));
    const released = await sessionObject(c.env, identity.tenant, identity.agent, session).releaseLease(id, identity.agent, Date.now());
    if (!released) throw new ApiError(404, "not_found", `no lease ${id} of agent ${identity.agent} in session ${session}`);
    return c.json({ lease_id: id, status: released.lease.status, granted: released.lease.granted, spent: released.lease.spent, usage: released.usage });
  });

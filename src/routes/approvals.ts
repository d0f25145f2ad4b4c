/**
 * @module approvals
 * Approvals over HTTP. The agent that was told `require_approval` waits on
 * the id it was given, with its own credential (another tenant's is 403,
 * another agent's sees nothing):
 *
 *   GET /v1/approvals/:id[?wait=<seconds>]    the approval; with `wait`, held (up to 60 s)
 *                                             until it is decided or expires
 *   GET /v1/approvals/:id  (Upgrade: websocket) a socket that receives it once decided, then closes
 *
 * and then re-submits the same action with `approval_id`. Approvers (role
 * `approver`, scoped to tenants) work through the admin API:
 *
 *   GET  /v1/admin/approvals/:tenant[?status=pending]   the tenant's approvals, newest first
 *   GET  /v1/admin/approvals/:tenant/:id                one approval
 *   POST /v1/admin/approvals/:tenant/:id                {"decision": "approve"|"reject", "reason": "…"}
 *
 * Each request goes to the session object the id names, which holds the
 * approval; only the list reads the tenant's index.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../errors";
import { principalOf, type AdminVariables } from "../middleware/admin-auth";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";
import { jsonBody } from "../middleware/json-body";
import { tenantParam } from "./admin-params";
import { readJson, validated } from "./request-body";
import { approvalObjectId, publicView } from "../session/approvals";
import { approvalsIndex } from "../session/objects";
import type { ApprovalStatus } from "../session/types";

const MAX_WAIT_SECONDS = 60;
const STATUSES: readonly ApprovalStatus[] = ["pending", "approved", "rejected", "used", "expired"];

/** The session object holding approval `id`; 404 for an id no object of ours could have issued. */
export function holderOf(env: Env, id: string) {
  const objectId = approvalObjectId(id);
  if (objectId === undefined) throw new ApiError(400, "invalid_approval_id", "approval ids look like apr_<64 hex digits>_<24 hex digits>");
  try {
    return env.SESSIONS.get(env.SESSIONS.idFromString(objectId));
  } catch {
    throw new ApiError(404, "not_found", `no approval ${id}`);
  }
}

function waitSeconds(raw: string | undefined): number {
  if (raw === undefined) return 0;
  if (!/^\d{1,3}$/.test(raw) || Number(raw) > MAX_WAIT_SECONDS) {
    throw new ApiError(400, "invalid_input", `wait is a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}`, "wait");
  }
  return Number(raw);
}

export const approvalsRoute = new Hono<AgentEnv>().get("/:id", agentAuth(), async (c) => {
  const id = c.req.param("id");
  const holder = holderOf(c.env, id);
  const identity = identityOf(c);
  const current = await holder.approval(id);
  if (current && current.tenant !== identity.tenant) throw new ApiError(403, "forbidden", `approval ${id} belongs to another tenant`);
  if (!current || current.agent_id !== identity.agent) throw new ApiError(404, "not_found", `no approval ${id} for agent ${identity.agent}`);
  if (c.req.header("upgrade")?.toLowerCase() === "websocket") {
    return holder.fetch(`https://session/approvals?approval=${encodeURIComponent(id)}`, { headers: { upgrade: "websocket" } });
  }
  const wait = waitSeconds(c.req.query("wait"));
  const record = wait > 0 ? await holder.waitFor(id, wait * 1000) : current;
  if (!record) throw new ApiError(404, "not_found", `no approval ${id}`);
  return c.json(publicView(record));
});

export const APPROVAL_STATUSES = STATUSES;

const decisionBody = z.strictObject({ decision: z.enum(["approve", "reject"]), reason: z.string().trim().min(1).max(1000) });

export const adminApprovalsRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .get("/approvals/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const status = c.req.query("status");
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
      throw new ApiError(400, "invalid_input", `status is one of ${STATUSES.join(", ")}`, "status");
    }
    return c.json({ approvals: await approvalsIndex(c.env, tenant).list(status as ApprovalStatus | undefined, Date.now()) });
  })
  .get("/approvals/:tenant/:id", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const id = c.req.param("id");
    const record = await holderOf(c.env, id).approval(id);
    // Another tenant's approval is reported as absent.
    if (!record || record.tenant !== tenant) throw new ApiError(404, "not_found", `no approval ${id} for tenant ${tenant}`);
    return c.json(record);
  })
  .post("/approvals/:tenant/:id", jsonBody(8 * 1024), async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const principal = principalOf(c);
    const id = c.req.param("id");
    const holder = holderOf(c.env, id);
    const body = validated(decisionBody, await readJson(c));
    const outcome = body.decision === "approve" ? "approved" : "rejected";
    const result = await holder.decideApproval(id, tenant, outcome, principal.subject, body.reason);
    if (!result.ok) {
      throw result.status === 404
        ? new ApiError(404, "not_found", `no approval ${id} for tenant ${tenant}`)
        : new ApiError(409, "approval_not_pending", `approval ${id}: ${result.why}`);
    }
    return c.json(result.record);
  });

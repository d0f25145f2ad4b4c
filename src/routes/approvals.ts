/**
 * @module approvals
 * `GET /v1/approvals/:tenant/:id[?wait=<seconds>]`: an agent waiting for a
 * human. With `wait`, the request is held (up to 60 s) until the approval is
 * decided or expires; then the agent re-submits the same action with
 * `approval_id`. The id is an unguessable capability handed to the agent that
 * asked.
 */
import { Hono } from "hono";
import { ApiError } from "../errors";

const MAX_WAIT_SECONDS = 60;

export const approvalsRoute = new Hono<{ Bindings: Env }>().get("/:tenant/:id", async (c) => {
  const tenant = c.req.param("tenant");
  const id = c.req.param("id");
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenant) || !/^apr_[0-9a-f]{24}$/.test(id)) {
    throw new ApiError(400, "invalid_approval_id", "expected /v1/approvals/<tenant>/apr_<24 hex digits>");
  }
  const wait = Math.min(Math.max(Number(c.req.query("wait") ?? 0) || 0, 0), MAX_WAIT_SECONDS);
  const stub = c.env.APPROVALS.get(c.env.APPROVALS.idFromName(tenant));
  const record = wait > 0 ? await stub.waitFor(id, wait * 1000) : await stub.get(id);
  if (!record) throw new ApiError(404, "not_found", `no approval ${id} for tenant ${tenant}`);
  const { action_hash: _hash, ...visible } = record;
  return c.json(visible);
});

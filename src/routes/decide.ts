/**
 * @module decide
 * `POST /v1/decide`: authenticate the agent, validate the action, then hand
 * both to the decision pipeline. Bad input never reaches the policy: it
 * gets a 4xx naming what was wrong.
 */
import { Hono } from "hono";
import { runDecision } from "../decision/pipeline";
import { locationOf } from "../decision/region";
import { ApiError } from "../errors";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";
import { jsonBody } from "../middleware/json-body";
import { decisionBodySchema } from "../schema/decision-input";
import { readJson, validated } from "./request-body";

/** A decision input is a description of one action; 64 KiB is generous. */
export const MAX_DECISION_BODY_BYTES = 64 * 1024;

/** Visible ASCII, as in the IETF Idempotency-Key draft's common practice; scoped to the session. */
export function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(header)) {
    throw new ApiError(400, "invalid_idempotency_key", "Idempotency-Key is 1 to 255 visible ASCII characters");
  }
  return header;
}

export const decideRoute = new Hono<AgentEnv>().post("/", agentAuth(), jsonBody(MAX_DECISION_BODY_BYTES), async (c) => {
  const body = validated(decisionBodySchema, await readJson(c));
  const colo = (c.req.raw.cf?.colo as string | undefined) ?? c.env.EDGE_LOCATION;
  const idempotencyKey = idempotencyKeyOf(c.req.header("idempotency-key"));
  const response = await runDecision(c.env, c.executionCtx, { body, identity: identityOf(c), location: locationOf(c.req.raw), colo, idempotencyKey });
  c.header("x-tollgate-decision-id", response.decision_id);
  return c.json(response);
});

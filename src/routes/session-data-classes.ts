/**
 * @module session-data-classes
 * `POST /v1/sessions/:session/data-classes`: a caller of `/v1/decide` (or
 * the SDK's `guard()`, after a tool returned) reports the classes of data a
 * result carried, `{"decision_id"?: string, "data_classes": ["pii"]}`. The
 * session is the credential's agent's own (tenant and agent come from the
 * credential, never the path or body); its object adds the classes to what
 * the session has touched and answers the whole set, and the agent's object
 * records them too, for its other sessions (session/agent-taint.ts). Taint
 * only tightens: nothing here, or anywhere, removes a class.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../errors";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";
import { jsonBody } from "../middleware/json-body";
import { AgentClassesRefused, recordAgentClasses } from "../session/agent-taint";
import { rememberClasses, withTimeout } from "../session/client";
import type { RecordedClasses } from "../session/types";
import { sessionKey, sessionObject } from "../session/objects";
import { readJson, validated } from "./request-body";
import { dataClassSchema } from "../schema/data-class";

const bodySchema = z.strictObject({
  decision_id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "a decision id is a UUID").optional(),
  // The same classes /v1/decide accepts in session.data_classes and action.data_classes.
  data_classes: z.array(dataClassSchema).min(1).max(64),
});

/** How long the caller waits for the session object; past it, 503 and nothing is known to be recorded. */
const RECORD_TIMEOUT_MS = 2_000;

export const sessionDataClassesRoute = new Hono<AgentEnv>().post("/:session/data-classes", agentAuth(), jsonBody(16 * 1024), async (c) => {
  const session = c.req.param("session");
  if (!/^[\x21-\x7e]{1,256}$/.test(session)) throw new ApiError(400, "invalid_input", "session ids are 1 to 256 visible ASCII characters", "session");
  const body = validated(bodySchema, await readJson(c));
  const identity = identityOf(c);
  const { tenant, agent } = identity;
  let outcome: RecordedClasses;
  try {
    outcome = await withTimeout<RecordedClasses>(sessionObject(c.env, tenant, agent, session).recordDataClasses(body.data_classes, body.decision_id ?? null), RECORD_TIMEOUT_MS);
  } catch (error) {
    throw new ApiError(503, "session_state_unavailable", `the session's state could not be reached (${(error as Error).message}); the classes may not be recorded: report them again`);
  }
  if ("refused" in outcome) throw new ApiError(409, "too_many_data_classes", outcome.refused);
  rememberClasses(sessionKey(tenant, agent, session), outcome.data_classes);
  try {
    // And with the agent, so that its other sessions cannot carry the data out (agent-taint.ts).
    await recordAgentClasses(c.env, identity, body.data_classes, Date.now(), RECORD_TIMEOUT_MS);
  } catch (error) {
    if (error instanceof AgentClassesRefused) throw new ApiError(409, "too_many_data_classes", `${error.message}; the classes are recorded in this session only`);
    throw new ApiError(503, "session_state_unavailable", `the agent's state could not be reached (${(error as Error).message}); the classes are recorded in this session only: report them again`);
  }
  return c.json({ session, data_classes: outcome.data_classes });
});

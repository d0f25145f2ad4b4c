/**
 * @module agent-data-classes
 * `GET /v1/agent/data-classes`: the classes of data the credential's agent
 * read in any of its sessions within the governing policy's window (for a
 * sub-agent, its whole tree's, recorded with the registered agent at its
 * root), which the edge judges an action that reaches outside by
 * (session/agent-taint.ts). The agent SDK asks after it reaches the edge,
 * so that a decision it makes offline, when it cannot ask, is judged by
 * what the agent's other processes had read too, not only its own. The
 * agent is the credential's: nothing in the request names another.
 */
import { Hono } from "hono";
import { governingPolicy } from "../decision/pipeline";
import { locationOf } from "../decision/region";
import { ApiError } from "../errors";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";
import { agentTaint, agentTaintWindowS } from "../session/agent-taint";

/** How long the caller waits for the agent's object; past it, 503. */
const TAINT_TIMEOUT_MS = 2_000;

export const agentDataClassesRoute = new Hono<AgentEnv>().get("/data-classes", agentAuth(), async (c) => {
  if ((c.env.SESSION_STATE as string) === "off") throw new ApiError(503, "session_state_off", "this edge keeps no session state, so it records no data classes");
  const identity = identityOf(c);
  const now = Date.now();
  const { resolution } = await governingPolicy(c.env, c.executionCtx, identity.tenant, locationOf(c.req.raw), now);
  const layers = resolution.policy.data;
  const taint = await agentTaint(c.env, identity, layers, now, TAINT_TIMEOUT_MS);
  if (!taint.known) throw new ApiError(503, "session_state_unavailable", `the agent's state could not be reached (${taint.message}); ask again`);
  return c.json({ data_classes: taint.classes, window_s: agentTaintWindowS(layers), as_of: new Date(now).toISOString() });
});

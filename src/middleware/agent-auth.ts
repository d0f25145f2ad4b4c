/**
 * @module agent-auth
 * Every agent-facing route sits behind this: the bearer credential is
 * verified at the edge (identity/authenticate.ts) and the identity it proves
 * is what the route acts for. No credential or a bad one is 401 with a
 * `WWW-Authenticate` challenge; a registry that cannot be reached is 503.
 */
import type { Context, MiddlewareHandler } from "hono";
import { authenticate } from "../identity/authenticate";
import type { Identity } from "../identity/types";

export type AgentVariables = { identity: Identity };
export type AgentEnv = { Bindings: Env; Variables: AgentVariables };

export function agentAuth(): MiddlewareHandler<AgentEnv> {
  return async (c, next) => {
    const identity = await authenticate(c.req.header("authorization"), {
      env: c.env,
      nowMs: Date.now(),
      background: (work) => c.executionCtx.waitUntil(work),
    });
    c.set("identity", identity);
    await next();
  };
}

export const identityOf = (c: Context<AgentEnv>): Identity => c.get("identity");

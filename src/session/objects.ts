/**
 * @module objects
 * Where session state lives, named once: one object per tenant, agent and
 * session, one per tenant and agent (agent-wide limits), and one approvals
 * index per tenant. The tenant and agent are the verified identity's, so no
 * agent can reach another's session by naming it. Names are JSON arrays, so
 * no choice of ids can make two of them collide. The decision path, the
 * objects themselves and the admin routes all reach them through these names.
 */
export const sessionKey = (tenant: string, agent: string, session: string) => JSON.stringify(["session", tenant, agent, session]);
export const agentKey = (tenant: string, agent: string) => JSON.stringify(["agent", tenant, agent]);

export function sessionObject(env: Env, tenant: string, agent: string, session: string) {
  return env.SESSIONS.get(env.SESSIONS.idFromName(sessionKey(tenant, agent, session)));
}

export function agentObject(env: Env, tenant: string, agent: string) {
  return env.AGENTS.get(env.AGENTS.idFromName(agentKey(tenant, agent)));
}

export function approvalsIndex(env: Env, tenant: string) {
  return env.APPROVALS.get(env.APPROVALS.idFromName(tenant));
}

export function breakerIndex(env: Env, tenant: string) {
  return env.BREAKERS.get(env.BREAKERS.idFromName(tenant));
}

/**
 * @module objects
 * Where session state lives, named once: one object per tenant and session,
 * one per tenant and agent (agent-wide limits), and one approvals index per
 * tenant. The decision path, the objects themselves and the admin routes all
 * reach them through these names.
 */
export const sessionKey = (tenant: string, session: string) => `${tenant}/${session}`;
export const agentKey = (tenant: string, agent: string) => `${tenant}/${agent}`;

export function sessionObject(env: Env, tenant: string, session: string) {
  return env.SESSIONS.get(env.SESSIONS.idFromName(sessionKey(tenant, session)));
}

export function agentObject(env: Env, tenant: string, agent: string) {
  return env.AGENTS.get(env.AGENTS.idFromName(agentKey(tenant, agent)));
}

export function approvalsIndex(env: Env, tenant: string) {
  return env.APPROVALS.get(env.APPROVALS.idFromName(tenant));
}

/**
 * Test identities: registers an agent in its tenant's registry through the
 * admin API, as a tenant's identity admin would, and mints a real agent key
 * for it. Keys are reused while the registry still has them; the test
 * runner may roll storage back between tests, and then a new one is minted.
 */
import { env, exports } from "cloudflare:workers";
import { registryObject } from "../../src/identity/registry-cache";
import { certifiedUntil } from "../../src/identity/registration";
import type { RiskTier } from "../../src/types";
import { TEST_TOKENS } from "../fixtures/test-config";

export interface AgentSpec {
  tenant?: string;
  agent?: string;
  role?: string;
  scopes?: string[];
  owner?: string;
  risk_tier?: RiskTier;
  max_risk_tier?: RiskTier;
  certified_until?: string;
}

export function registryAdmin(path: string, init: RequestInit = {}, token: string = TEST_TOKENS.registrar): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  if (init.body) headers.set("content-type", "application/json");
  return exports.default.fetch(`http://edge/v1/admin/registry${path}`, { ...init, headers });
}

export function registration(spec: AgentSpec) {
  return {
    owner: spec.owner ?? "ops@example.com",
    role: spec.role ?? "support",
    scopes: spec.scopes ?? [],
    risk_tier: spec.risk_tier ?? "low",
    max_risk_tier: spec.max_risk_tier ?? "critical",
    certified_until: spec.certified_until ?? "2099-12-31",
  };
}

export async function register(spec: AgentSpec): Promise<void> {
  const tenant = spec.tenant ?? "acme";
  const agent = spec.agent ?? "agent-1";
  const response = await registryAdmin(`/${tenant}/agents/${encodeURIComponent(agent)}`, { method: "PUT", body: JSON.stringify(registration(spec)) });
  if (response.status !== 200 && response.status !== 201) throw new Error(`register ${tenant}/${agent}: ${response.status} ${await response.text()}`);
}

export async function issueKey(tenant: string, agent: string, body: Record<string, unknown> = {}): Promise<{ key: string; key_id: string }> {
  const response = await registryAdmin(`/${tenant}/agents/${encodeURIComponent(agent)}/keys`, { method: "POST", body: JSON.stringify(body) });
  if (response.status !== 201) throw new Error(`key for ${tenant}/${agent}: ${response.status} ${await response.text()}`);
  return response.json();
}

const minted = new Map<string, Promise<{ key: string; key_id: string }>>();

/** Whether the registry holds `spec`'s registration for the agent, and the key is still live. */
async function current(spec: AgentSpec, keyId: string): Promise<{ registered: boolean; live: boolean }> {
  const view = await registryObject(env, spec.tenant ?? "acme").agent(spec.agent ?? "agent-1");
  if (!view) return { registered: false, live: false };
  const wanted = { ...registration(spec), certified_until: certifiedUntil(registration(spec).certified_until) };
  return { registered: JSON.stringify(view.registration) === JSON.stringify(wanted), live: view.keys.some((k) => k.key_id === keyId && !k.revoked_at) };
}

/**
 * A live agent key for an agent registered as `spec` says. One key per
 * agent is reused across specs (the registration is updated when the spec
 * differs); concurrent callers share one registration.
 */
export async function agentKey(spec: AgentSpec = {}): Promise<string> {
  const tenant = spec.tenant ?? "acme";
  const agent = spec.agent ?? "agent-1";
  const memo = JSON.stringify([tenant, agent]);
  const known = minted.get(memo);
  if (known) {
    const issued = await known.catch(() => undefined);
    if (issued) {
      const state = await current(spec, issued.key_id);
      if (!state.registered) await register(spec);
      if (state.live) return issued.key;
    }
    if (minted.get(memo) !== known) return agentKey(spec);
  }
  const issuing = register(spec).then(() => issueKey(tenant, agent));
  minted.set(memo, issuing);
  return (await issuing).key;
}

/**
 * A sub-agent's credential at `depth`, for the agent `spec` names: a root
 * agent with the same role and scopes spawns a chain of sub-agents, each
 * through POST /v1/decide, the last of them being `spec.agent`.
 */
/**
 * A sub-agent's credential `depth` spawns below a registered agent named
 * after spec.agent, each level named after it too; with the agent id the
 * edge gave it (its parent's id, "!", its name), which the sub-agent's
 * bodies must name.
 */
export async function delegatedCredential(spec: AgentSpec, depth: number): Promise<{ token: string; agent: string }> {
  const agent = spec.agent ?? "agent-1";
  let token = await agentKey({ ...spec, agent: `${agent}.root` });
  let id = `${agent}.root`;
  for (let level = 1; level <= depth; level++) {
    const child = level === depth ? agent : `${agent}.d${level}`;
    const response = await exports.default.fetch("http://edge/v1/decide", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        session: { id: `${agent}.chain.${level}.${crypto.randomUUID()}` },
        action: { type: "spawn_agent", spawn: { agent_id: child, role: spec.role ?? "support", scopes: spec.scopes ?? [] } },
      }),
    });
    const answer = await response.json<{ decision: string; delegated_credential?: { token: string; agent: string } }>();
    if (!answer.delegated_credential) throw new Error(`spawning ${child} at depth ${level}: ${JSON.stringify(answer)}`);
    token = answer.delegated_credential.token;
    id = answer.delegated_credential.agent;
  }
  return { token, agent: id };
}

export async function bearer(spec: AgentSpec = {}): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await agentKey(spec)}` };
}

/** The agent a decision body names (tenant, agent id, role, scopes), as a spec. */
export function specOf(body: Record<string, unknown>): AgentSpec {
  const agent = (body.agent ?? {}) as { id?: string; role?: string; scopes?: string[] };
  return { tenant: (body.tenant as string | undefined) ?? "acme", agent: agent.id ?? "agent-1", role: agent.role ?? "support", scopes: agent.scopes };
}

/**
 * @module bench-agents
 * The agents a benchmark run speaks for. Every decision is authenticated, as
 * in production: each scenario's agent is registered with its tenant and
 * given a key through the admin API, and for the JWT rows the tenant gets an
 * identity provider (an Ed25519 key made for the run, its JWKS registered
 * inline) whose tokens name the same agents. A request is a body and the
 * headers that carry its credential.
 */
import { createHash, randomBytes, randomUUID, sign, generateKeyPairSync, type KeyObject } from "node:crypto";
import { adminCall, type AdminTarget } from "./admin-client.ts";

export interface Call {
  body: string;
  headers: Record<string, string>;
}

interface ScenarioBody {
  tenant?: string;
  agent?: { id?: string; role?: string; scopes?: string[]; delegation_depth?: number };
  [field: string]: unknown;
}

/** A token for the run's admin API: the roles the bench needs, every tenant. */
export function benchAdminToken(): { token: string; entry: Record<string, unknown> } {
  const token = `bench-${randomBytes(16).toString("hex")}`;
  const entry = { [createHash("sha256").update(token).digest("hex")]: { subject: "bench", roles: ["agent_admin", "auditor", "publisher", "operator"], scopes: ["*"] } };
  return { token, entry };
}

/**
 * A scenario as its agent sends it. A root agent's key cannot claim a
 * delegation depth (that takes an edge-minted sub-agent credential), so the
 * claim is left out and the spawn is judged at depth 0.
 */
export function asSent(body: ScenarioBody): ScenarioBody {
  if (!body.agent?.delegation_depth) return body;
  const { delegation_depth: _depth, ...agent } = body.agent;
  return { ...body, agent };
}

const agentOf = (body: ScenarioBody) => ({ tenant: body.tenant ?? "acme", agent: body.agent?.id ?? "agent-1", role: body.agent?.role ?? "support", scopes: body.agent?.scopes ?? [] });
const agentKey = (body: ScenarioBody) => JSON.stringify(agentOf(body));

/** Registers every agent the bodies name (one registration per agent and role) and mints a key for each. */
export async function enrolAgents(target: AdminTarget, bodies: ScenarioBody[]): Promise<(body: ScenarioBody) => Call> {
  const keys = new Map<string, string>();
  for (const body of bodies) {
    const id = agentKey(body);
    if (keys.has(id)) continue;
    const { tenant, agent, role, scopes } = agentOf(body);
    // One agent id may appear under several roles: each gets its own registered agent.
    const registered = `${agent}.${role}`;
    await adminCall(target, "PUT", `/registry/${tenant}/agents/${encodeURIComponent(registered)}`, {
      owner: "bench@localhost",
      role,
      scopes,
      max_risk_tier: "critical",
      certified_until: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const { key } = await adminCall<{ key: string }>(target, "POST", `/registry/${tenant}/agents/${encodeURIComponent(registered)}/keys`, { label: "bench" });
    keys.set(id, key);
  }
  return (body) => {
    const sent = withRegisteredAgent(body);
    return { body: JSON.stringify(sent), headers: { authorization: `Bearer ${keys.get(agentKey(body))}` } };
  };
}

function withRegisteredAgent(body: ScenarioBody): ScenarioBody {
  const { agent, role } = agentOf(body);
  return { ...body, agent: { ...body.agent, id: `${agent}.${role}` } };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An identity provider for the bodies' tenants, whose JWTs name the agents enrolAgents registered. */
export interface JwtProvider {
  (body: ScenarioBody, unique: boolean): Call;
  publicJwk: JsonWebKey;
}

export async function jwtProvider(target: AdminTarget, bodies: ScenarioBody[]): Promise<JwtProvider> {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const jwk = { ...(publicKey.export({ format: "jwk" }) as JsonWebKey), kid: "bench-1", alg: "EdDSA", use: "sig" };
  const issuer = `https://idp.bench.example/${randomUUID()}`;
  for (const tenant of new Set(bodies.map((body) => agentOf(body).tenant))) {
    await adminCall(target, "PUT", `/registry/${tenant}/provider`, { issuer: `${issuer}/${tenant}`, audience: "tollgate-bench", jwks: { keys: [jwk] } });
  }
  const reused = new Map<string, string>();
  const mint = (body: ScenarioBody) => token(privateKey, `${issuer}/${agentOf(body).tenant}`, withRegisteredAgent(body).agent!.id!);
  const provider = (body: ScenarioBody, unique: boolean): Call => {
    const sent = JSON.stringify(withRegisteredAgent(body));
    if (unique) return { body: sent, headers: { authorization: `Bearer ${mint(body)}` } };
    const id = agentKey(body);
    if (!reused.has(id)) reused.set(id, mint(body));
    return { body: sent, headers: { authorization: `Bearer ${reused.get(id)}` } };
  };
  return Object.assign(provider, { publicJwk: jwk });
}

function token(privateKey: KeyObject, issuer: string, agent: string): string {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "EdDSA", typ: "JWT", kid: "bench-1" })}.${b64({ iss: issuer, aud: "tollgate-bench", sub: agent, iat: now, exp: now + 7200, jti: randomUUID() })}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
}

/**
 * The policy input an edge builds for a body sent with an agent key (the
 * body with the verified identity in it), for the targets that take a
 * policy input directly: OPA's server, the evaluator in Node, the sandbox.
 */
export function policyInputOf(body: ScenarioBody): Record<string, unknown> {
  const { tenant, agent, role, scopes } = agentOf(body);
  const registration = { owner: "bench@localhost", role, risk_tier: "low", max_risk_tier: "critical", certified_until: "2099-01-01T00:00:00.000Z", scopes };
  return {
    ...body,
    identity: { tenant, agent, role, scopes, credential: { kind: "agent_key", id: "k0000000000000000" }, registration, delegation: { depth: 0 } },
    edge: { region: "global", region_source: "local_default", location: "bench" },
  };
}

/**
 * Shared pieces for the session-state tests: commit requests as the edge
 * builds them, and decisions over HTTP through the real Worker.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { SessionDO } from "../../src/session/session-do";
import type { CommitRequest } from "../../src/session/types";
import { sessionObject } from "../../src/session/objects";
import { bearer, specOf, type AgentSpec } from "../identity/credentials";

let counter = 0;
export const uniqueId = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++counter}-${crypto.randomUUID().slice(0, 8)}`;

export function commit(overrides: Partial<CommitRequest> & { session_id: string }): CommitRequest {
  return {
    decision_id: uniqueId("d"),
    now_ms: Date.now(),
    tenant: "acme",
    agent_id: "agent-1",
    action_hash: "0".repeat(64),
    action_summary: "{}",
    verdict: "allow",
    cost: { tokens: 0, api_calls: 1, cost_usd: 0 },
    limits: {},
    breaker: { threshold: 3, window_s: 300, cooldown_s: 0 },
    agent_limit: null,
    approval_ttl_s: 3600,
    delegation: { scopes: [], depth: 0 },
    ...overrides,
  };
}

/** The session's object, as the edge reaches it. */
export const sessionStub = (session: string, agent = "agent-1", tenant = "acme") => sessionObject(env, tenant, agent, session);

/**
 * Fires the session object's alarm and waits for its work to finish. An alarm
 * due now may already have started by itself, and runDurableObjectAlarm then
 * finds none to run: calling the handler joins the pass in flight.
 */
export async function fireAlarm(stub: DurableObjectStub<SessionDO>): Promise<void> {
  if (!(await runDurableObjectAlarm(stub))) await runInDurableObject(stub, (instance: SessionDO) => instance.alarm());
}

export interface DecisionBody {
  decision: string;
  reasons: Array<{ rule: string; message: string }>;
  session: any;
  [field: string]: any;
}

/**
 * Sends a decision with the credential of the agent the body names (its
 * tenant, id and role), registered and keyed for the test; an explicit
 * authorization header replaces it.
 */
export async function decideRaw(input: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> {
  const credential = "authorization" in headers ? {} : await bearer(specOf(input));
  return exports.default.fetch("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": "application/json", ...credential, ...headers },
    body: JSON.stringify(input),
  });
}

export async function decide(input: Record<string, unknown>, headers: Record<string, string> = {}): Promise<DecisionBody> {
  const response = await decideRaw(input, headers);
  if (response.status !== 200) throw new Error(`decide: ${response.status} ${await response.text()}`);
  return response.json();
}

export function admin(path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  if (init.body) headers.set("content-type", "application/json");
  return exports.default.fetch(`http://edge/v1/admin${path}`, { ...init, headers });
}

/** The agent refundInput's decisions are made as. */
export const REFUND_AGENT: AgentSpec = { tenant: "acme", agent: "agent-7", role: "finance" };

/** A request to an agent-facing route, with the credential of `spec`'s agent. */
export async function agentFetch(path: string, init: RequestInit = {}, spec: AgentSpec = REFUND_AGENT): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", (await bearer(spec)).authorization);
  return exports.default.fetch(`http://edge${path}`, { ...init, headers });
}

export function refundInput(session: string, amount: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    risk_tier: "high",
    tenant: "acme",
    agent: { id: "agent-7", role: "finance" },
    session: { id: session },
    action: { type: "tool_call", tool: "payments.refund", args: { amount, currency: "EUR" } },
    ...extra,
  };
}

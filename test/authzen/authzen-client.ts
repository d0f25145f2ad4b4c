/**
 * An AuthZEN enforcement point, as the tests play it: evaluations sent over
 * HTTP to the real Worker with a registered agent's credential, and the
 * session and audit log read back to see what a request really did.
 */
import { env, exports } from "cloudflare:workers";
import type { ReceiptKey } from "../../packages/agent/src/receipt";
import { chainFor } from "../../src/audit/writer";
import { TEST_TOKENS } from "../fixtures/test-config";
import { bearer, type AgentSpec } from "../identity/credentials";
import { admin } from "../session/helpers";

/** A finance agent: tickets.read is low risk, refunds are high and need approval above 500. */
export const FINANCE: AgentSpec = { tenant: "acme", agent: "az-finance", role: "finance" };

export interface Decision {
  decision: boolean;
  context?: Record<string, any>;
}

/** The agent of `spec` as an AuthZEN subject. */
export const subjectOf = (spec: AgentSpec = FINANCE) => ({ type: "agent", id: spec.agent! });

/** An action on a tool, as AuthZEN action and resource. */
export function toolCall(tool: string, args?: Record<string, unknown>) {
  return { action: { name: "tool_call", ...(args ? { properties: { args } } : {}) }, resource: { type: "tool", id: tool } };
}

export const refund = (amount: number) => toolCall("payments.refund", { amount, currency: "EUR" });
export const readTicket = () => toolCall("tickets.read", { id: "T-1" });

/** One evaluation of `spec`'s agent in `session`. */
export function evaluation(session: string, parts: Record<string, unknown>, spec: AgentSpec = FINANCE): Record<string, unknown> {
  return { subject: subjectOf(spec), context: { session: { id: session } }, ...parts };
}

export async function post(path: string, body: unknown, headers: Record<string, string> = {}, spec: AgentSpec = FINANCE): Promise<Response> {
  const credential = "authorization" in headers ? {} : await bearer(spec);
  return exports.default.fetch(`https://edge.example${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...credential, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export async function evaluate(body: unknown, headers: Record<string, string> = {}, spec: AgentSpec = FINANCE): Promise<Decision> {
  const response = await post("/access/v1/evaluation", body, headers, spec);
  if (response.status !== 200) throw new Error(`evaluation: ${response.status} ${await response.text()}`);
  return response.json();
}

export async function evaluateAll(body: unknown, headers: Record<string, string> = {}, spec: AgentSpec = FINANCE): Promise<{ evaluations: Decision[] }> {
  const response = await post("/access/v1/evaluations", body, headers, spec);
  if (response.status !== 200) throw new Error(`evaluations: ${response.status} ${await response.text()}`);
  return response.json();
}

/** What the session's object has debited (api_calls counts allowed actions). */
export async function usageOf(session: string, spec: AgentSpec = FINANCE): Promise<{ api_calls: number }> {
  const response = await admin(`/sessions/${spec.tenant}/${spec.agent}/${session}`, TEST_TOKENS.acmeOperator);
  if (response.status !== 200) throw new Error(`session view: ${response.status} ${await response.text()}`);
  return (await response.json<{ usage: { api_calls: number } }>()).usage;
}

/** The decision ids the tenant's audit chain holds for a session, once at least `atLeast` have arrived. */
export async function auditedIds(session: string, atLeast: number, spec: AgentSpec = FINANCE, timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await chainFor(env, spec.tenant!).query({ session, agent: spec.agent, limit: 1000 });
    const ids = (page.records as Array<{ decision_id: string }>).map((record) => record.decision_id);
    if (ids.length >= atLeast || Date.now() > deadline) return ids;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The keys the edge publishes for verifying receipts, as any verifier fetches them. */
export async function receiptKeys(): Promise<{ keys: ReceiptKey[] }> {
  return (await exports.default.fetch("https://edge.example/.well-known/jwks.json")).json();
}

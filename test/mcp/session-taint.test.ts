/**
 * Session taint through the decision API, inside workerd: the classes a
 * result carried are reported with POST /v1/sessions/:session/data-classes
 * (what the SDK's guard() calls), only ever grow, and reach the policy as
 * input.session.data_classes. A decision is never committed without the
 * classes the session object holds, even when this isolate's copy is
 * behind (another edge recorded PII a moment ago). What one session read
 * binds the agent's other sessions too, for the policy's window.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runDecision } from "../../src/decision/pipeline";
import type { DecisionBody } from "../../src/schema/decision-input";
import { policyIdentity } from "../fixtures/policy-identity";
import { agentFetch, decide, decideRaw, sessionStub, uniqueId } from "../session/helpers";
import { bearer, type AgentSpec } from "../identity/credentials";
import { app } from "../../src/app";
import { agentTaintWindowS, DEFAULT_AGENT_TAINT_WINDOW_S } from "../../src/session/agent-taint";

const AGENT = "taint-agent";
const SUPPORT: AgentSpec = { tenant: "acme", agent: AGENT, role: "support" };

function emailInput(session: string, extra: Record<string, unknown> = {}, agent = AGENT) {
  return { tenant: "acme", agent: { id: agent, role: "support" }, session: { id: session }, action: { type: "tool_call", tool: "email.send", args: { to: "x@example.test" } }, ...extra };
}

function report(session: string, body: unknown, spec: AgentSpec = SUPPORT, headers: Record<string, string> = { "content-type": "application/json" }) {
  return agentFetch(`/v1/sessions/${encodeURIComponent(session)}/data-classes`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) }, spec);
}

/** The environment with the agents' objects unreachable: every call to one fails, as an overloaded or unreachable object would. */
function withUnreachableAgents(): Env {
  const unreachable = { idFromName: () => env.AGENTS.idFromName("unreachable"), get: () => ({ classesSince: () => Promise.reject(new Error("object unreachable")) }) };
  return { ...env, AGENTS: unreachable } as unknown as Env;
}

describe("reporting the data classes a result carried", () => {
  it("records them in the caller's own session; an external tool then needs approval", async () => {
    const session = uniqueId("taint");
    expect((await decide(emailInput(session))).decision).toBe("allow");
    const reported = await report(session, { decision_id: "01900000-0000-7000-8000-000000000000", data_classes: ["pii"] });
    expect(reported.status).toBe(200);
    expect(await reported.json()).toEqual({ session, data_classes: ["pii"] });
    const after = await decide(emailInput(session));
    expect(after.decision).toBe("require_approval");
    expect(after.reasons.map((r) => r.rule)).toEqual(["session_data_to_external_tool"]);
    // Another agent's session of the same name is untouched: sessions are keyed by the credential's agent.
    expect((await decide({ ...emailInput(session), agent: { id: "taint-other", role: "support" } })).decision).toBe("allow");
  });

  it("only grows: a body can add a class, never remove one", async () => {
    const session = uniqueId("grow");
    await report(session, { data_classes: ["confidential"] });
    const again = await report(session, { data_classes: ["public"] });
    expect(((await again.json()) as { data_classes: string[] }).data_classes.sort()).toEqual(["confidential", "public"]);
    const claimedClean = await decide(emailInput(session, { session: { id: session, data_classes: [] } }));
    expect(claimedClean.decision).toBe("require_approval");
    const added = await decide({ ...emailInput(uniqueId("body")), session: { id: uniqueId("body"), data_classes: ["pii"] } });
    expect(added.decision).toBe("require_approval");
  });

  it("binds the agent's other sessions: moving to a new session does not shed the taint", async () => {
    const agent = "taint-mover";
    const spec: AgentSpec = { tenant: "acme", agent, role: "support" };
    const [reading, sending] = [uniqueId("reading"), uniqueId("sending")];
    expect((await decide(emailInput(sending, {}, agent))).decision).toBe("allow");
    expect((await report(reading, { data_classes: ["pii"] }, spec)).status).toBe(200);
    const moved = await decide(emailInput(sending, {}, agent));
    expect(moved.decision).toBe("require_approval");
    expect(moved.reasons.map((r) => r.rule)).toEqual(["session_data_to_external_tool"]);
    const fresh = await decide(emailInput(uniqueId("fresh"), {}, agent));
    expect(fresh.decision).toBe("require_approval");
    // Tools that stay inside are not held back, and another agent of the tenant is untouched.
    const internal = await decide({ ...emailInput(uniqueId("internal"), {}, agent), action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } });
    expect(internal.decision).toBe("allow");
    expect((await decide(emailInput(uniqueId("bystander"), {}, "taint-bystander"))).decision).toBe("allow");
  });

  it("cannot be pushed out of the agent's record by made-up classes: past its limit a report is refused, and pii stays", async () => {
    const agent = "taint-flooder";
    const spec: AgentSpec = { tenant: "acme", agent, role: "support" };
    expect((await report(uniqueId("read"), { data_classes: ["pii"] }, spec)).status).toBe(200);
    const made = (prefix: string) => Array.from({ length: 64 }, (_, i) => `${prefix}-${i}`);
    expect((await report(uniqueId("junk"), { data_classes: made("x") }, spec)).status).toBe(200);
    const refused = await report(uniqueId("junk"), { data_classes: made("y") }, spec);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: "too_many_data_classes" } });
    const leak = await decide(emailInput(uniqueId("send"), {}, agent));
    expect(leak.decision).toBe("require_approval");
    expect(leak.reasons.map((r) => r.rule)).toEqual(["session_data_to_external_tool"]);
  });

  it("refuses an action that reaches outside when the agent's object cannot say what the agent read", async () => {
    const broken = withUnreachableAgents();
    const identity = policyIdentity("acme", "taint-unknown", "support");
    const decideWith = (tool: string) =>
      runDecision(broken, { waitUntil: () => undefined }, { body: { session: { id: uniqueId("unknown") }, action: { type: "tool_call", tool, args: {} } } as DecisionBody, identity, colo: "test" });
    const external = await decideWith("email.send");
    expect(external.decision).toBe("deny");
    expect((external.reasons as Array<{ rule: string; message: string }>).map((r) => r.rule)).toEqual(["agent_taint_unknown"]);
    // An action that stays inside asks nothing of the agent's object.
    expect((await decideWith("tickets.read")).decision).toBe("allow");
  });

  it("counts reads for the longest window any layer sets, an hour when none does, and no more than 30 days", () => {
    const layer = (agent_window_s: unknown) => ({ tollgate: { params: { data_flows: { session_taint: { agent_window_s } } } } });
    expect(agentTaintWindowS([layer(600), layer(7_200), {}])).toBe(7_200);
    expect(agentTaintWindowS([{}, layer("forever"), layer(-5)])).toBe(DEFAULT_AGENT_TAINT_WINDOW_S);
    expect(agentTaintWindowS([layer(1e12)])).toBe(30 * 86_400);
  });

  it("refuses bad reports with a clear 4xx", async () => {
    const session = uniqueId("bad");
    expect((await report(session, { data_classes: [] })).status).toBe(400);
    expect((await report(session, { data_classes: ["x".repeat(65)] })).status).toBe(400);
    // One spelling only: a class the policy would not know is refused, not recorded under a name no rule matches.
    for (const spelled of ["PII", " pii", "pii ", "Confidential", "p ii"]) {
      expect((await report(session, { data_classes: [spelled] })).status, spelled).toBe(400);
      const decided = await decideRaw({ session: { id: session, data_classes: [spelled] }, action: { type: "tool_call", tool: "email.send", args: {}, data_classes: [spelled] } });
      expect(decided.status, spelled).toBe(400);
    }
    expect((await report(session, { data_classes: ["pii"], extra: 1 })).status).toBe(400);
    expect((await report(session, "{not json")).status).toBe(400);
    expect((await report(session, `{"data_classes":${"[".repeat(5000)}${"]".repeat(5000)}}`)).status).toBe(400);
    expect((await report(session, { data_classes: ["pii"] }, SUPPORT, { "content-type": "text/plain" })).status).toBe(415);
    expect((await report(session, { data_classes: ["pii"] }, SUPPORT, { "content-type": "application/json", authorization: "" })).status).toBe(401);
    expect((await report(session, { data_classes: ["pii"] }, SUPPORT, { "content-type": "application/json", authorization: "Bearer tgk_acme_k0000000000000000_x" })).status).toBe(401);
  });
});

describe("what the agent read, for the SDK's offline decisions", () => {
  const agentClasses = (spec: AgentSpec, headers: Record<string, string> = {}) => agentFetch("/v1/agent/data-classes", { headers }, spec);

  it("is what any of the credential's agent's sessions read within the window; another agent's reads are not in it", async () => {
    const agent = "taint-asked";
    const spec: AgentSpec = { tenant: "acme", agent, role: "support" };
    const before = await agentClasses(spec);
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ data_classes: [], window_s: DEFAULT_AGENT_TAINT_WINDOW_S });
    expect((await report(uniqueId("read"), { data_classes: ["pii"] }, spec)).status).toBe(200);
    expect((await report(uniqueId("bystander-read"), { data_classes: ["confidential"] }, { tenant: "acme", agent: "taint-asked-other", role: "support" })).status).toBe(200);
    const after = (await (await agentClasses(spec)).json()) as { data_classes: string[]; as_of: string };
    expect(after.data_classes).toEqual(["pii"]);
    // The same agent name in another tenant is another agent.
    expect(await (await agentClasses({ ...spec, tenant: "initech" })).json()).toMatchObject({ data_classes: [] });
    expect(Date.parse(after.as_of)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("needs the agent's own credential, and says so when the agent's object cannot answer", async () => {
    const spec: AgentSpec = { tenant: "acme", agent: "taint-asked-auth", role: "support" };
    expect((await agentClasses(spec, { authorization: "" })).status).toBe(401);
    expect((await agentClasses(spec, { authorization: "Bearer tgk_acme_k0000000000000000_x" })).status).toBe(401);
    // A path that names another agent is not a route: the agent is the credential's.
    expect((await agentFetch("/v1/agent/someone-else/data-classes", {}, spec)).status).toBe(404);
    const broken = withUnreachableAgents();
    const request = new Request("http://edge/v1/agent/data-classes", { headers: await bearer(spec) });
    const answered = await app.fetch(request, broken, { waitUntil: () => undefined, passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext);
    expect(answered.status).toBe(503);
    expect(await answered.json()).toMatchObject({ error: { code: "session_state_unavailable" } });
  });
});

describe("a decision and the session object's record", () => {
  it("is evaluated again when the object holds classes this isolate has not seen", async () => {
    const session = uniqueId("stale");
    // An agent of its own: the others here have read PII, which binds all their sessions.
    const agent = "taint-stale";
    // The isolate learns the session is clean...
    expect((await decide(emailInput(session, {}, agent))).decision).toBe("allow");
    // ...then PII is recorded without this isolate seeing it (as another edge would).
    await sessionStub(session, agent).recordDataClasses(["pii"], null);
    const decided = await decide(emailInput(session, {}, agent));
    expect(decided.decision).toBe("require_approval");
    expect(decided.reasons.map((r) => r.rule)).toEqual(["session_data_to_external_tool"]);
    expect(decided.session.status).toBe("ok");
  });

  it("commits nothing for an evaluation that missed a class", async () => {
    const session = uniqueId("nocommit");
    const stub = sessionStub(session, AGENT);
    await stub.recordDataClasses(["pii"], null);
    const result = await stub.commit({
      decision_id: uniqueId("d"), now_ms: Date.now(), tenant: "acme", session_id: session, agent_id: AGENT, action_hash: "0".repeat(64), action_summary: "{}",
      verdict: "allow", cost: { tokens: 0, api_calls: 1, cost_usd: 0 }, limits: {}, breaker: { threshold: 3, window_s: 300, cooldown_s: 0 }, agent_limit: null, approval_ttl_s: 3600,
      delegation: { scopes: [], depth: 0 }, data_classes_seen: [],
    });
    expect(result.stale_classes).toEqual(["pii"]);
    expect((await stub.view()).usage.api_calls).toBe(0);
  });
});

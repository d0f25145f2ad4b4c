/**
 * Budget leases for offline decisions, at the session object and over
 * HTTP: a lease is cut only from what remains, online decisions can never
 * spend what a lease holds, an uploaded offline decision is spent once,
 * release gives the rest back, and nobody but the lease's own agent can
 * take or release one.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { agentFetch, commit, sessionStub, uniqueId } from "./helpers";
import type { AgentSpec } from "../identity/credentials";

const limits = { tokens: 1000, api_calls: 8, cost_usd: 2 };
const lease = (fraction = 0.5) => ({ agent_id: "agent-1", limits, fraction, ttl_s: 600, now_ms: Date.now() });
const call = (session: string) => commit({ session_id: session, limits, cost: { tokens: 0, api_calls: 1, cost_usd: 0 } });

describe("the session object's budget leases", () => {
  it("cuts a lease from what remains, and online decisions cannot spend what it holds", async () => {
    const session = uniqueId("lease");
    const stub = sessionStub(session);
    const granted = await stub.grantLease(lease());
    expect(granted).toMatchObject({ ok: true, reused: false, lease: { granted: { api_calls: 4, tokens: 500, cost_usd: 1 } } });
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push((await stub.commit(call(session))).verdict);
    expect(verdicts).toEqual(["allow", "allow", "allow", "allow", "deny"]);
    const refused = await stub.commit(call(session));
    expect(refused.reasons[0].message).toContain("held by budget leases for offline decisions");
    // Asking again while the lease is live gives the same lease, not a second slice.
    const again = await stub.grantLease(lease());
    expect(again).toMatchObject({ ok: true, reused: true });
    if (granted.ok && again.ok) expect(again.lease.id).toBe(granted.lease.id);
  });

  it("spends uploaded decisions once each, and a release gives back only what was not spent", async () => {
    const session = uniqueId("spend");
    const stub = sessionStub(session);
    const granted = await stub.grantLease(lease());
    if (!granted.ok) throw new Error("no lease");
    const spends = ["off-a", "off-b"].map((decision_id) => ({ decision_id, lease_id: granted.lease.id, cost: { tokens: 10, api_calls: 1, cost_usd: 0.1 } }));
    expect(await stub.spendOffline(spends, Date.now())).toEqual({ recorded: ["off-a", "off-b"], duplicates: [] });
    expect(await stub.spendOffline(spends, Date.now())).toEqual({ recorded: [], duplicates: ["off-a", "off-b"] });
    const view = await stub.view();
    expect(view.usage).toMatchObject({ api_calls: 2, tokens: 20 });
    expect(view.leases[0].spent).toEqual({ tokens: 20, api_calls: 2, cost_usd: 0.2 });
    // 8 calls: 2 spent offline, 2 still held by the lease; 4 left online.
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push((await stub.commit(call(session))).verdict);
    expect(verdicts).toEqual(["allow", "allow", "allow", "allow", "deny"]);
    const released = await stub.releaseLease(granted.lease.id, "agent-1", Date.now());
    expect(released?.lease.status).toBe("released");
    expect((await stub.commit(call(session))).verdict).toBe("allow");
    expect((await stub.commit(call(session))).verdict).toBe("allow");
    expect((await stub.commit(call(session))).verdict).toBe("deny");
    // Another agent's release of it finds nothing.
    expect(await stub.releaseLease(granted.lease.id, "agent-2", Date.now())).toBeUndefined();
  });

  it("grants nothing when nothing is left, or while the breaker is open", async () => {
    const session = uniqueId("empty");
    const stub = sessionStub(session);
    for (let i = 0; i < 8; i++) await stub.commit(call(session));
    expect(await stub.grantLease(lease())).toMatchObject({ ok: false, code: "budget_exhausted" });
    const tripped = uniqueId("tripped");
    const trippedStub = sessionStub(tripped);
    for (let i = 0; i < 3; i++) await trippedStub.commit(commit({ session_id: tripped, verdict: "deny", breaker: { threshold: 3, window_s: 300, cooldown_s: 0 } }));
    expect(await trippedStub.grantLease(lease())).toMatchObject({ ok: false, code: "circuit_open" });
  });
});

const SUPPORT: AgentSpec = { tenant: "acme", agent: "lease-agent", role: "support" };
const post = (path: string, body: unknown, spec: AgentSpec = SUPPORT, headers: Record<string, string> = {}) =>
  agentFetch(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) }, spec);

describe("POST /v1/leases", () => {
  it("grants the policy's share of the role's remaining budget, for the policy's offline window", async () => {
    const session = uniqueId("http");
    const response = await post("/v1/leases", { session });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, any>;
    // The global policy: a quarter of the support role's 500 calls, for 900 s.
    expect(body.granted.api_calls).toBe(125);
    expect(body.offline).toEqual({ tiers: ["low", "medium"], max_window_s: 900, lease_fraction: 0.25 });
    expect(Date.parse(body.expires_at) - Date.now()).toBeGreaterThan(890_000);
    const view = await sessionStub(session, "lease-agent").view();
    expect(view.leases.map((l) => l.id)).toEqual([body.lease_id]);
    expect((await post("/v1/leases", { session })).status).toBe(200);
  });

  it("lets no one else release a lease: not another agent, not another tenant", async () => {
    const session = uniqueId("theft");
    const { lease_id } = (await (await post("/v1/leases", { session })).json()) as { lease_id: string };
    const otherAgent = await post(`/v1/leases/${lease_id}/release`, { session }, { tenant: "acme", agent: "someone-else", role: "support" });
    expect(otherAgent.status).toBe(404);
    const otherTenant = await post(`/v1/leases/${lease_id}/release`, { session }, { tenant: "initech", agent: "lease-agent", role: "support" });
    expect(otherTenant.status).toBe(404);
    expect((await sessionStub(session, "lease-agent").view()).leases).toHaveLength(1);
    const own = await post(`/v1/leases/${lease_id}/release`, { session });
    expect(own.status).toBe(200);
    expect(await own.json()).toMatchObject({ lease_id, status: "released" });
  });

  it("refuses a missing credential, bad bodies and bad ids with 4xx", async () => {
    const anonymous = await exports.default.fetch("http://edge/v1/leases", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ session: "s" }) });
    expect(anonymous.status).toBe(401);
    expect((await post("/v1/leases", "{not json")).status).toBe(400);
    expect((await post("/v1/leases", { session: "s", extra: 1 })).status).toBe(400);
    expect((await post("/v1/leases", { session: "" })).status).toBe(400);
    // Nested far deeper than any body may be, within the size limit: refused before it is read into the schema.
    const deep = `{"session": ${"[".repeat(1500)}${"]".repeat(1500)}}`;
    const nested = await post("/v1/leases", deep);
    expect(nested.status).toBe(400);
    expect(await nested.json()).toMatchObject({ error: { code: "invalid_input" } });
    expect((await post("/v1/leases", { session: "x".repeat(5000) })).status).toBe(413);
    expect((await agentFetch("/v1/leases", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }, SUPPORT)).status).toBe(415);
    expect((await post("/v1/leases/not-a-lease/release", { session: "s" })).status).toBe(400);
    expect((await post(`/v1/leases/lse_${"0".repeat(24)}/release`, { session: "s" })).status).toBe(404);
    expect(env.SESSIONS).toBeDefined();
  });
});

/**
 * A governed agent attacking its own session state: concurrency, retries,
 * approvals, delegation and leases, each where a looser answer was found.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sessionObject } from "../../src/session/objects";
import { offlineDecisionId, type OfflineRecord } from "../../packages/agent/src/offline-record";
import { entryHash, SPOOL_GENESIS, type SpoolEntry } from "../../packages/agent/src/spool";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { layerFiles, signLayer } from "../store/harness";
import type { SessionDO as DrillSessionDO } from "../worker/test-entry";
import { admin, agentFetch, commit, decide, uniqueId } from "./helpers";

const session = (name: string, agent = "agent-1") => sessionObject(env, "acme", agent, name);
const rules = (result: { reasons: Array<{ rule: string }> }) => result.reasons.map((r) => r.rule);

describe("the agent-wide limit, for an approval the MCP gateway uses without naming it", () => {
  it("an approved action found by its hash is counted, and refused while the agent's breaker is open", async () => {
    const agent = uniqueId("mcp-buyer");
    const limit = { key: "purchasing.create_po", max: 1, window_s: 3600 };
    const name = uniqueId("mcp");
    const stub = session(name, agent);
    const action_hash = "a".repeat(64);
    // An approval asked for, and approved, for one purchase order.
    const asked = await stub.commit(commit({ session_id: name, agent_id: agent, action_hash, verdict: "require_approval", agent_limit: limit }));
    const id = asked.approval!.id;
    await stub.decideApproval(id, "acme", "approved", "approver", "ok");
    // Meanwhile the agent's other orders trip the agent-wide breaker for the tool.
    for (let i = 0; i < 2; i++) await session(uniqueId("other"), agent).commit(commit({ session_id: uniqueId("other"), agent_id: agent, agent_limit: limit }));
    const named = await session(uniqueId("other"), agent).commit(commit({ session_id: uniqueId("other"), agent_id: agent, agent_limit: limit }));
    expect(rules(named)).toEqual(["agent_circuit_open"]);
    // The MCP gateway resends the call: the approval is found by the action's hash.
    const resent = await stub.commit(commit({ session_id: name, agent_id: agent, action_hash, verdict: "require_approval", approval_by_action: true, agent_limit: limit }));
    expect(resent.verdict).toBe("deny");
    expect(rules(resent)).toContain("agent_circuit_open");
    // The approval is left approved for when an operator resets the agent's breaker.
    expect((await stub.approval(id))!.status).toBe("approved");
  });
});

describe("a budget lease released before what it bought was uploaded", () => {
  it("spends uploaded after the release are marked: the reservation that covered them was handed back", async () => {
    const name = uniqueId("released");
    const stub = session(name);
    const limits = { tokens: 1000, api_calls: 8, cost_usd: 2 };
    const granted = await stub.grantLease({ agent_id: "agent-1", limits, fraction: 0.5, ttl_s: 600, now_ms: Date.now() });
    if (!granted.ok) throw new Error("no lease");
    const leaseId = granted.lease.id;
    // The agent releases the lease at once (nothing reported spent: all four calls go back to the session)...
    await stub.releaseLease(leaseId, "agent-1", Date.now());
    // ...spends the whole budget online...
    for (let i = 0; i < 8; i++) expect((await stub.commit(commit({ session_id: name, limits }))).verdict).toBe("allow");
    // ...and then uploads the four calls it made offline on the lease, dated within it.
    const spends = Array.from({ length: 4 }, (_, i) => ({ decision_id: `off-${name}-${i}`, lease_id: leaseId, cost: { tokens: 0, api_calls: 1, cost_usd: 0 }, at_ms: Date.now() }));
    const judged = await stub.judgeOfflineSpends("agent-1", spends, 300_000);
    expect(Object.values(judged)).toEqual(spends.map(() => ["lease_released"]));
  });
});

describe("purchase orders an agent made offline", () => {
  it("count against the agent-wide limit once uploaded: past it they are marked, and the agent's breaker opens", async () => {
    const agent = uniqueId("offline-buyer");
    const spec = { tenant: "acme", agent, role: "finance" };
    const name = uniqueId("offline-po");
    const order = (now: number): OfflineRecord => ({
      decision_id: offlineDecisionId(now),
      time: new Date(now).toISOString(),
      tenant: "acme",
      agent,
      session: name,
      action_type: "tool_call",
      tool: "purchasing.create_po",
      action_hash: `sha256:${"c".repeat(64)}`,
      decision: "allow",
      rules: [],
      obligations: [],
      risk_tier: "high",
      source: "local_policy",
      layers: [{ scope: "global", digest: `sha256:${"b".repeat(64)}`, version: 3 }],
      last_contact: new Date(now - 60_000).toISOString(),
    });
    // 201 orders offline (the global policy allows 200 an hour), uploaded as the SDK does, 100 a request.
    const now = Date.now();
    const entries: SpoolEntry[] = [];
    let prev = SPOOL_GENESIS;
    for (let i = 0; i < 201; i++) {
      const record = order(now - 201 + i);
      const hash = await entryHash(prev, record);
      entries.push({ seq: i + 1, prev, hash, record });
      prev = hash;
    }
    const flags: Array<{ seq: number; reasons: string[] }> = [];
    for (let i = 0; i < entries.length; i += 100) {
      const response = await agentFetch("/v1/offline/decisions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ entries: entries.slice(i, i + 100) }) }, spec);
      expect(response.status).toBe(200);
      flags.push(...(((await response.json()) as { out_of_bounds?: Array<{ seq: number; reasons: string[] }> }).out_of_bounds ?? []));
    }
    expect(flags.filter((flag) => flag.reasons.includes("agent_rate_exceeded")).map((flag) => flag.seq)).toEqual([201]);
    // Sent again (an answer that was lost), they are copies: counted and marked when they first came.
    const again = await agentFetch("/v1/offline/decisions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ entries: entries.slice(100, 200) }) }, spec);
    expect(((await again.json()) as { out_of_bounds?: Array<{ reasons: string[] }> }).out_of_bounds?.some((flag) => flag.reasons.some((reason) => reason.startsWith("agent_")))).toBeFalsy();
    // The next order online, in another session, finds the agent's breaker for the tool open.
    const online = await decide({
      risk_tier: "medium",
      tenant: "acme",
      agent: { id: agent, role: "finance" },
      session: { id: uniqueId("online-po") },
      action: { type: "tool_call", tool: "purchasing.create_po", args: { amount: 90, supplier: "acme-paper" } },
    });
    expect(online.decision).toBe("deny");
    expect(rules(online)).toEqual(["agent_circuit_open"]);
  });
});

/** Publishes the global layer with `agentLimits` added to its data, and makes this edge take it. */
async function publishGlobal(agentLimits: Record<string, unknown>): Promise<void> {
  const files = layerFiles("global");
  const data = JSON.parse(new TextDecoder().decode(files["data.json"])) as { tollgate: { params: { agent_limits: Record<string, unknown> } } };
  data.tollgate.params.agent_limits = { ...data.tollgate.params.agent_limits, ...agentLimits };
  const signed = await signLayer("global", { version: Date.now(), nowMs: Date.now(), files: { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) } });
  const encoded = Object.fromEntries(Object.entries(signed.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  const put = await admin("/bundles/global", TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest: signed.manifest, files: encoded }) });
  expect(put.status, await put.clone().text()).toBe(201);
  expect((await admin("/refresh", TEST_TOKENS.operator, { method: "POST" })).status).toBe(200);
}

describe("an agent-wide limit on a tool whose tier fails open", () => {
  it("is not escaped by keeping the session's object busy: an action it counts is refused when the object cannot answer", async () => {
    const tenant = uniqueId("limited").replace(/[^a-z0-9-]/g, "-").slice(0, 40);
    // Ticket reads are bounded to one an hour per agent (a scraping limit); tickets.read is low risk, which fails open.
    await publishGlobal({ "tickets.read": { max: 1, window_s: 3600 } });
    const agent = uniqueId("scraper");
    const read = (sessionId: string) => ({ risk_tier: "low", tenant, agent: { id: agent, role: "support" }, session: { id: sessionId }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } });
    expect((await decide(read(uniqueId("s")))).decision).toBe("allow");
    const over = await decide(read(uniqueId("s")));
    expect(rules(over)).toEqual(["agent_rate_exceeded"]);
    expect(rules(await decide(read(uniqueId("s"))))).toEqual(["agent_circuit_open"]);
    // The agent's breaker for the tool is open until an operator resets it; the agent floods a fresh session's object.
    const flooded = uniqueId("s");
    await (sessionObject(env, tenant, agent, flooded) as unknown as DurableObjectStub<DrillSessionDO>).injectFault({ kind: "overloaded", remaining: 1 });
    const unmetered = await decide(read(flooded));
    expect(unmetered.session).toMatchObject({ status: "unavailable", fault: "overloaded" });
    expect(unmetered.decision).toBe("deny");
  });
});

describe("a budget lease and the session's wall-clock budget", () => {
  const limits = { tokens: 1000, api_calls: 100, cost_usd: 10, wall_clock_s: 3600 };
  const leaseFor = (now: number) => ({ agent_id: "agent-1", limits, fraction: 0.25, ttl_s: 900, now_ms: now });

  it("no lease once the wall-clock budget is spent: offline decisions would be made on a spent budget", async () => {
    const name = uniqueId("wall-spent");
    const stub = session(name);
    const now = Date.now();
    await stub.commit(commit({ session_id: name, limits, now_ms: now - 2 * 3600_000 }));
    expect(rules(await stub.commit(commit({ session_id: name, limits, now_ms: now })))).toEqual(["budget_exhausted"]);
    expect(await stub.grantLease(leaseFor(now))).toMatchObject({ ok: false, code: "budget_exhausted" });
  });

  it("a lease ends when the wall-clock budget does", async () => {
    const name = uniqueId("wall-ending");
    const stub = session(name);
    const now = Date.now();
    const started = now - 3500_000;
    await stub.commit(commit({ session_id: name, limits, now_ms: started }));
    const granted = await stub.grantLease(leaseFor(now));
    if (!granted.ok) throw new Error(granted.message);
    expect(Date.parse(granted.lease.expires_at)).toBeLessThanOrEqual(started + 3600_000);
  });
});

describe("the usage a caller reports", () => {
  it("cannot lower what this edge knows the session has used: a spent budget stays spent when the session's object cannot answer", async () => {
    const name = uniqueId("spent");
    const read = (tokens: number, extra: Record<string, unknown> = {}) => ({
      risk_tier: "low",
      tenant: "acme",
      agent: { id: "agent-1", role: "support" },
      session: { id: name, ...extra },
      action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" }, estimate: { tokens } },
    });
    // The whole token budget (200,000 for the role) in one action; the edge hears the usage back.
    expect((await decide(read(200_000))).decision).toBe("allow");
    const stub = sessionObject(env, "acme", "agent-1", name) as unknown as DurableObjectStub<DrillSessionDO>;
    await stub.injectFault({ kind: "overloaded", remaining: 1 });
    // The session's object is overloaded (read fails open), and the caller says it has used nothing.
    const claimed = await decide(read(1, { usage: { tokens: 0, api_calls: 0, cost_usd: 0, wall_clock_s: 0 } }));
    expect(claimed.session).toMatchObject({ status: "unavailable", fault: "overloaded" });
    expect(claimed.decision).toBe("deny");
    expect(rules(claimed)).toContain("budget_exhausted");
  });
});

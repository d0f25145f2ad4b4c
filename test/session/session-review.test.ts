/**
 * A governed agent attacking its own session state: concurrency, retries,
 * approvals, delegation and leases, each where a looser answer was found.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sessionObject } from "../../src/session/objects";
import { offlineDecisionId, type OfflineRecord } from "../../packages/agent/src/offline-record";
import { entryHash, SPOOL_GENESIS, type SpoolEntry } from "../../packages/agent/src/spool";
import { agentFetch, commit, decide, uniqueId } from "./helpers";

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

/**
 * A governed agent attacking its own session state: concurrency, retries,
 * approvals, delegation and leases, each where a looser answer was found.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sessionObject } from "../../src/session/objects";
import { commit, uniqueId } from "./helpers";

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

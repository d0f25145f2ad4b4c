/**
 * Delegation is checked against what the parent's session recorded when it
 * spawned the sub-agent, not against what the sub-agent claims.
 */
import { describe, expect, it } from "vitest";
import { decide, uniqueId } from "./helpers";

function spawnInput(session: string, child: string, scopes: string[]) {
  return {
    risk_tier: "medium",
    tenant: "acme",
    agent: { id: "lead-agent", role: "support", scopes: ["tickets:read", "kb:read"] },
    session: { id: session },
    action: { type: "spawn_agent", spawn: { agent_id: child, role: "researcher", scopes } },
  };
}

function childInput(session: string, parent: string, child: string, scopes: string[], depth: number) {
  return {
    risk_tier: "medium",
    tenant: "acme",
    agent: { id: child, role: "researcher", scopes, delegation_depth: depth },
    session: { id: session, parent_session_id: parent },
    action: { type: "tool_call", tool: "kb.search", args: { q: "refund policy" } },
  };
}

const rules = (body: { reasons: Array<{ rule: string }> }) => body.reasons.map((r) => r.rule);

describe("delegation", () => {
  it("a spawned agent acts within the scopes and depth its parent's session registered", async () => {
    const parent = uniqueId("parent");
    const child = uniqueId("child");
    expect((await decide(spawnInput(parent, child, ["kb:read"]))).decision).toBe("allow");
    expect((await decide(childInput(uniqueId("c1"), parent, child, ["kb:read"], 1))).decision).toBe("allow");

    const claimsMore = await decide(childInput(uniqueId("c2"), parent, child, ["kb:read", "tickets:read"], 1));
    expect(claimsMore.decision).toBe("deny");
    expect(rules(claimsMore)).toContain("scope_not_granted");

    const claimsShallower = await decide(childInput(uniqueId("c3"), parent, child, ["kb:read"], 0));
    expect(rules(claimsShallower)).toContain("delegation_depth_mismatch");
  });

  it("an agent its claimed parent never spawned is denied", async () => {
    const stranger = await decide(childInput(uniqueId("s"), uniqueId("parent"), uniqueId("ghost"), [], 1));
    expect(stranger.decision).toBe("deny");
    expect(rules(stranger)).toContain("delegation_not_registered");
  });
});

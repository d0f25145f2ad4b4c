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

  it("depth is bounded by what each session registered: a chain of spawns stops at the maximum depth", async () => {
    const scopes = ["kb:read"];
    const spawnFrom = (session: string, parent: string | undefined, agent: string, depth: number, child: string) => ({
      risk_tier: "medium",
      tenant: "acme",
      agent: { id: agent, role: "researcher", scopes, delegation_depth: depth },
      session: parent ? { id: session, parent_session_id: parent } : { id: session },
      action: { type: "spawn_agent", spawn: { agent_id: child, role: "researcher", scopes } },
    });
    const [s0, s1, s2, s3] = [0, 1, 2, 3].map((i) => uniqueId(`depth${i}`));
    const [a0, a1, a2, a3] = [0, 1, 2, 3].map((i) => uniqueId(`agent${i}`));
    expect((await decide(spawnFrom(s0, undefined, a0, 0, a1))).decision).toBe("allow");
    expect((await decide(spawnFrom(s1, s0, a1, 1, a2))).decision).toBe("allow");
    expect((await decide(spawnFrom(s2, s1, a2, 2, a3))).decision).toBe("allow");
    // At depth 3 (the policy's maximum) no further spawn is allowed...
    expect(rules(await decide(spawnFrom(s3, s2, a3, 3, uniqueId("a4"))))).toContain("delegation_depth_exceeded");
    // ...and claiming to be shallower than registered is caught by the session, not believed.
    const lying = await decide(spawnFrom(uniqueId("depth3b"), s2, a3, 1, uniqueId("a4")));
    expect(lying.decision).toBe("deny");
    expect(rules(lying)).toContain("delegation_depth_mismatch");
  });

  it("an agent that claims a delegation depth must name the session that spawned it", async () => {
    const input = childInput(uniqueId("orphan"), "unused", uniqueId("orphan-agent"), ["kb:read"], 2);
    const orphan = await decide({ ...input, session: { id: input.session.id } });
    expect(orphan.decision).toBe("deny");
    expect(rules(orphan)).toContain("delegation_not_registered");
  });

  it("a parent cannot grant what its own session was never granted", async () => {
    const parent = uniqueId("parent");
    const child = uniqueId("child");
    expect((await decide(spawnInput(parent, uniqueId("first"), ["kb:read"]))).decision).toBe("allow");
    // The parent now claims an extra scope and hands it on; its session recorded only tickets:read and kb:read.
    const widened = spawnInput(parent, child, ["kb:read", "payments:write"]);
    (widened.agent as { scopes: string[] }).scopes.push("payments:write");
    const escalation = await decide(widened);
    expect(escalation.decision).toBe("deny");
    expect(rules(escalation)).toContain("scope_not_granted");
    expect(rules(await decide(childInput(uniqueId("c"), parent, child, ["kb:read"], 1)))).toContain("delegation_not_registered");
  });
});

/**
 * Circuit breakers: a run of denials opens the session's breaker, it stays
 * open across an object restart and only an authorised reset closes it; with
 * a cool-down, the alarm moves it to half-open. The agent-wide breaker
 * catches what no single call violates.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sessionObject } from "../../src/session/objects";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, commit, decide, fireAlarm, uniqueId } from "./helpers";

const session = (name: string) => sessionObject(env, "acme", "agent-1", name);
const rules = (body: { reasons: Array<{ rule: string }> }) => body.reasons.map((r) => r.rule);

function toolCall(sessionId: string, tool: string, extra: Record<string, unknown> = {}) {
  return {
    risk_tier: "high",
    tenant: "acme",
    agent: { id: "agent-s", role: "support" },
    session: { id: sessionId },
    action: { type: "tool_call", tool, args: {} },
    ...extra,
  };
}

describe("the session breaker", () => {
  it("opens at its threshold, survives a restart, and resets only with an authorised call", async () => {
    const name = uniqueId("breaker");
    const stub = session(name);
    const breaker = { threshold: 3, window_s: 300, cooldown_s: 0 };
    expect((await stub.commit(commit({ session_id: name, verdict: "deny", breaker }))).breaker).toBe("closed");
    expect((await stub.commit(commit({ session_id: name, verdict: "deny", breaker }))).breaker).toBe("closed");
    expect((await stub.commit(commit({ session_id: name, verdict: "deny", breaker }))).breaker).toBe("open");

    const blocked = await stub.commit(commit({ session_id: name, verdict: "allow", breaker }));
    expect(blocked.verdict).toBe("deny");
    expect(blocked.reasons.map((r) => r.rule)).toEqual(["circuit_open"]);

    await evictDurableObject(stub);
    const afterRestart = await session(name).commit(commit({ session_id: name, verdict: "allow", breaker }));
    expect(afterRestart).toMatchObject({ verdict: "deny", breaker: "open" });

    expect((await admin(`/sessions/acme/agent-1/${name}/breaker/reset`, undefined, { method: "POST" })).status).toBe(401);
    expect((await admin(`/sessions/acme/agent-1/${name}/breaker/reset`, TEST_TOKENS.acmeApprover, { method: "POST" })).status).toBe(403);
    expect((await admin(`/sessions/initech/agent-1/${name}/breaker/reset`, TEST_TOKENS.acmeOperator, { method: "POST" })).status).toBe(403);
    const reset = await admin(`/sessions/acme/agent-1/${name}/breaker/reset`, TEST_TOKENS.acmeOperator, { method: "POST" });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ breaker: "closed", was: "open", reset_by: "acme-oncall" });
    expect((await session(name).commit(commit({ session_id: name, verdict: "allow", breaker }))).verdict).toBe("allow");
    const view = await (await admin(`/sessions/acme/agent-1/${name}`, TEST_TOKENS.acmeOperator)).json<{ breaker: string; breaker_resets: Array<{ by: string }> }>();
    expect(view).toMatchObject({ breaker: "closed", breaker_resets: [{ by: "acme-oncall" }] });
  });

  it("over HTTP: the high tier's threshold of denials from policy data opens it for every action of the session", async () => {
    const name = uniqueId("http-breaker");
    for (let i = 0; i < 2; i++) {
      // A refund is high tier whatever is declared, and support may not make one.
      const denied = await decide(toolCall(name, "payments.refund", { action: { type: "tool_call", tool: "payments.refund", args: { amount: 5 } } }));
      expect(denied).toMatchObject({ decision: "deny", breaker: { threshold: 3 }, session: { breaker: "closed" } });
    }
    const third = await decide(toolCall(name, "db.query"));
    expect(third.session.breaker).toBe("open");
    const harmless = await decide(toolCall(name, "tickets.read"));
    expect(harmless.decision).toBe("deny");
    expect(rules(harmless)).toEqual(["circuit_open"]);
    expect(harmless.session).toMatchObject({ breaker: "open", changed: { from: "allow", to: "deny" } });
    // Another session of the same agent is untouched.
    expect((await decide(toolCall(uniqueId("other"), "tickets.read"))).decision).toBe("allow");
  });

  it("denials outside the window do not add up", async () => {
    const name = uniqueId("window");
    const stub = session(name);
    const breaker = { threshold: 2, window_s: 60, cooldown_s: 0 };
    await stub.commit(commit({ session_id: name, verdict: "deny", breaker, now_ms: Date.now() - 120_000 }));
    expect((await stub.commit(commit({ session_id: name, verdict: "deny", breaker }))).breaker).toBe("closed");
  });

  it("moves to half-open when its alarm fires after the cool-down; a good action closes it, a denial reopens it", async () => {
    const breaker = { threshold: 1, window_s: 300, cooldown_s: 60 };
    const storedState = (stub: ReturnType<typeof session>) =>
      runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ state: string }>("SELECT state FROM breaker").toArray()[0]?.state ?? "closed");
    for (const trial of ["allow", "deny"] as const) {
      const name = uniqueId(`halfopen-${trial}`);
      const stub = session(name);
      const opened = await stub.commit(commit({ session_id: name, verdict: "deny", breaker, now_ms: Date.now() - 120_000 }));
      expect(opened.breaker).toBe("open");
      await fireAlarm(stub);
      // The alarm itself moved it (read straight from SQLite, not through the lazy check).
      expect(await storedState(stub)).toBe("half_open");
      const result = await stub.commit(commit({ session_id: name, verdict: trial, breaker }));
      expect(result).toMatchObject(trial === "allow" ? { verdict: "allow", breaker: "closed" } : { verdict: "deny", breaker: "open" });
    }
  });
});

describe("the agent-wide breaker", () => {
  it("trips on the aggregate: many small purchase orders, each allowed on its own", async () => {
    const agent = uniqueId("buyer");
    const limit = { key: "purchasing.create_po", max: 5, window_s: 3600 };
    const results = [];
    for (let i = 0; i < 7; i++) {
      results.push(await session(uniqueId(`po-${i}`)).commit(commit({ session_id: uniqueId("po"), agent_id: agent, agent_limit: limit })));
    }
    expect(results.slice(0, 5).every((r) => r.verdict === "allow")).toBe(true);
    expect(results[5].reasons.map((r) => r.rule)).toEqual(["agent_rate_exceeded"]);
    expect(results[6].reasons.map((r) => r.rule)).toEqual(["agent_circuit_open"]);
    const reset = await admin(`/agents/acme/${agent}/breaker/reset`, TEST_TOKENS.acmeOperator, { method: "POST" });
    expect(await reset.json()).toMatchObject({ reset: 1 });
    expect((await session(uniqueId("po-after")).commit(commit({ session_id: uniqueId("po"), agent_id: agent, agent_limit: limit }))).verdict).toBe("allow");
  });

  it("counts only actions that were allowed: orders a session denied (its budget) do not use up the agent's limit", async () => {
    const agent = uniqueId("thrifty");
    const limit = { key: "purchasing.create_po", max: 2, window_s: 3600 };
    const broke = uniqueId("broke");
    for (let i = 0; i < 3; i++) {
      const denied = await session(broke).commit(commit({ session_id: broke, agent_id: agent, agent_limit: limit, limits: { api_calls: 0 }, breaker: { threshold: 100, window_s: 60, cooldown_s: 0 } }));
      expect(denied.reasons.map((r) => r.rule)).toEqual(["budget_exhausted"]);
    }
    const funded = uniqueId("funded");
    const orders = [];
    for (let i = 0; i < 3; i++) orders.push(await session(funded).commit(commit({ session_id: funded, agent_id: agent, agent_limit: limit })));
    expect(orders.map((o) => o.verdict)).toEqual(["allow", "allow", "deny"]);
    expect(orders[2].reasons.map((r) => r.rule)).toEqual(["agent_rate_exceeded"]);
  });

  it("over HTTP: the 201st purchase order of an agent within the hour is denied, each one small, across many sessions", async () => {
    const agent = uniqueId("po-agent");
    const order = (i: number) => ({
      risk_tier: "medium",
      tenant: "acme",
      agent: { id: agent, role: "finance" },
      session: { id: `${agent}-s${i % 20}` },
      action: { type: "tool_call", tool: "purchasing.create_po", args: { amount: 90 + i, supplier: "acme-paper" } },
    });
    const answers: Array<{ decision: string; reasons: Array<{ rule: string }> }> = [];
    for (let batch = 0; batch < 10; batch++) {
      answers.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => decide(order(batch * 20 + j))))));
    }
    expect(answers.filter((a) => a.decision === "allow").length).toBe(200);
    const over = await decide(order(200));
    expect(over.decision).toBe("deny");
    expect(rules(over)).toEqual(["agent_rate_exceeded"]);
    expect(rules(await decide(order(201)))).toEqual(["agent_circuit_open"]);
    const view = await (await admin(`/agents/acme/${agent}/breakers`, TEST_TOKENS.acmeOperator)).json<{ open: Array<{ key: string }> }>();
    expect(view.open.map((o) => o.key)).toEqual(["purchasing.create_po"]);
  });
});

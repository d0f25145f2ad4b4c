/**
 * Circuit breakers: a run of denials opens the session's breaker, it stays
 * open across an object restart and only an authorised reset closes it; with
 * a cool-down, the alarm moves it to half-open. The agent-wide breaker
 * catches what no single call violates.
 */
import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, commit, uniqueId } from "./helpers";

const session = (name: string) => env.SESSIONS.get(env.SESSIONS.idFromName(`acme/${name}`));

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

    expect((await admin(`/sessions/acme/${name}/breaker/reset`, undefined, { method: "POST" })).status).toBe(401);
    expect((await admin(`/sessions/acme/${name}/breaker/reset`, TEST_TOKENS.acmeApprover, { method: "POST" })).status).toBe(403);
    expect((await admin(`/sessions/initech/${name}/breaker/reset`, TEST_TOKENS.acmeOperator, { method: "POST" })).status).toBe(403);
    const reset = await admin(`/sessions/acme/${name}/breaker/reset`, TEST_TOKENS.acmeOperator, { method: "POST" });
    expect(reset.status).toBe(200);
    expect(await reset.json()).toMatchObject({ breaker: "closed", reset_by: "acme-oncall" });
    expect((await session(name).commit(commit({ session_id: name, verdict: "allow", breaker }))).verdict).toBe("allow");
  });

  it("denials outside the window do not add up", async () => {
    const name = uniqueId("window");
    const stub = session(name);
    const breaker = { threshold: 2, window_s: 60, cooldown_s: 0 };
    await stub.commit(commit({ session_id: name, verdict: "deny", breaker, now_ms: Date.now() - 120_000 }));
    expect((await stub.commit(commit({ session_id: name, verdict: "deny", breaker }))).breaker).toBe("closed");
  });

  it("moves to half-open when its alarm fires after the cool-down, then closes on a good action", async () => {
    const name = uniqueId("halfopen");
    const stub = session(name);
    const breaker = { threshold: 1, window_s: 300, cooldown_s: 60 };
    const opened = await stub.commit(commit({ session_id: name, verdict: "deny", breaker, now_ms: Date.now() - 120_000 }));
    expect(opened.breaker).toBe("open");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.view()).breaker).toBe("half_open");
    const trial = await stub.commit(commit({ session_id: name, verdict: "allow", breaker }));
    expect(trial).toMatchObject({ verdict: "allow", breaker: "closed" });
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
});

/**
 * Budgets are exact under concurrency: the check and the debit are one
 * atomic step in the session's object, and a decision id is debited once no
 * matter how often it arrives.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASELINE_POLICY } from "../../src/bundles/active-policy";
import { failModeDecision } from "../../src/engine/compose";
import { fallbackParams } from "../../src/engine/fallback-params";
import type { DecisionInput } from "../../src/schema/decision-input";
import { buildCommit } from "../../src/session/stage";
import { MAX_IN_FLIGHT_PER_SESSION } from "../../src/session/in-flight";
import type { CommitResult } from "../../src/session/types";
import { decodeReceipt } from "../../packages/agent/src/receipt";
import { commit, decide, decideRaw, fireAlarm, refundInput, sessionStub, uniqueId, type DecisionBody } from "./helpers";

function readInput(session: string, tokens: number, tool = "tickets.read") {
  return {
    risk_tier: "medium",
    tenant: "acme",
    agent: { id: "agent-7", role: "finance" },
    session: { id: session },
    action: { type: "tool_call", tool, args: { id: "T-1" }, estimate: { tokens } },
  };
}

describe("check-and-debit", () => {
  it("100 concurrent debits with duplicates and retries debit each unique decision once, never past the limit", async () => {
    const session = uniqueId("budget");
    const stub = env.SESSIONS.get(env.SESSIONS.idFromName(`acme/${session}`));
    const unique = Array.from({ length: 100 }, () => commit({ session_id: session, cost: { tokens: 1000, api_calls: 1, cost_usd: 0.01 }, limits: { tokens: 60_000 }, breaker: { threshold: 1000, window_s: 300, cooldown_s: 0 } }));
    // Every third decision is sent twice at once (a client retry), every fifth a third time after the fact.
    const burst = [...unique, ...unique.filter((_, i) => i % 3 === 0)];
    const results = await Promise.all(burst.map((request) => stub.commit(request)));
    const retries = await Promise.all(unique.filter((_, i) => i % 5 === 0).map((request) => stub.commit(request)));

    const byId = new Map<string, CommitResult[]>();
    [...burst].forEach((request, i) => byId.set(request.decision_id, [...(byId.get(request.decision_id) ?? []), results[i]]));
    for (const answers of byId.values()) expect(new Set(answers.map((a) => a.verdict)).size).toBe(1);
    const allowedIds = [...byId.entries()].filter(([, answers]) => answers[0].verdict === "allow").map(([id]) => id);
    expect(allowedIds.length).toBe(60);
    expect(retries.every((r) => r.replayed)).toBe(true);

    const view = await stub.view();
    expect(view.usage.tokens).toBe(allowedIds.length * 1000);
    expect(view.usage.tokens).toBeLessThanOrEqual(60_000);
    expect(view.usage.api_calls).toBe(allowedIds.length);
    const denied = results.filter((r) => r.verdict === "deny");
    expect(denied.every((r) => r.reasons.some((reason) => reason.rule === "budget_exhausted"))).toBe(true);
  });

  it("without a limit in reach, usage is exactly the sum over unique decision ids", async () => {
    const session = uniqueId("sum");
    const stub = env.SESSIONS.get(env.SESSIONS.idFromName(`acme/${session}`));
    const requests = Array.from({ length: 40 }, (_, i) => commit({ session_id: session, cost: { tokens: i + 1, api_calls: 1, cost_usd: 0 } }));
    await Promise.all([...requests, ...requests.slice(0, 10)].map((request) => stub.commit(request)));
    expect((await stub.view()).usage.tokens).toBe((40 * 41) / 2);
  });

  it("the edge passes the session's usage into the next decision's policy input", async () => {
    const session = uniqueId("usage");
    const first = await decide({ ...refundInput(session, 10), action: { type: "tool_call", tool: "tickets.read", estimate: { tokens: 99_000 } } });
    expect(first.decision).toBe("allow");
    expect(first.session.usage.tokens).toBe(99_000);
    // The finance role's token budget is 100,000: the policy itself now sees 99,000 used.
    const second = await decide({ ...refundInput(session, 10), action: { type: "tool_call", tool: "tickets.read", estimate: { tokens: 2_000 } } });
    expect(second.decision).toBe("deny");
    expect(second.reasons.map((r: { rule: string }) => r.rule)).toContain("budget_exhausted");
    expect(second.session.reasons).toBeUndefined();
  });

  it("over HTTP: 25 concurrent requests against a 100,000-token budget allow exactly ten of 10,000", async () => {
    const session = uniqueId("http-budget");
    const answers = await Promise.all(Array.from({ length: 25 }, () => decide(readInput(session, 10_000))));
    expect(answers.filter((a) => a.decision === "allow").length).toBe(10);
    for (const denied of answers.filter((a) => a.decision === "deny")) {
      expect(denied.reasons.map((r) => r.rule).some((rule) => rule === "budget_exhausted" || rule === "circuit_open")).toBe(true);
    }
    expect((await sessionStub(session, "agent-7").view()).usage.tokens).toBe(100_000);
  });

  it("an agent flooding its own session gets 429 past the in-flight bound, never an unmetered allow", async () => {
    const session = uniqueId("flood");
    const responses = await Promise.all(Array.from({ length: 3 * MAX_IN_FLIGHT_PER_SESSION }, () => decideRaw(readInput(session, 10))));
    const statuses = responses.map((response) => response.status);
    expect(new Set(statuses)).toEqual(new Set([200, 429]));
    const busy = responses.filter((response) => response.status === 429);
    expect(busy[0].headers.get("retry-after")).toBe("1");
    expect(await busy[0].json()).toMatchObject({ error: { code: "session_busy" } });
    const answers = await Promise.all(responses.filter((response) => response.status === 200).map((response) => response.json() as Promise<DecisionBody>));
    // Every answer the session object could not meter would say so; none does, and every allow is debited.
    expect(answers.filter((answer) => answer.session?.status === "unavailable")).toEqual([]);
    const allowed = answers.filter((answer) => answer.decision === "allow").length;
    expect((await sessionStub(session, "agent-7").view()).usage.tokens).toBe(allowed * 10);
    // Once the flood has passed, the session decides again.
    expect((await decide(readInput(session, 10))).decision).toBe("allow");
  });

  it("a request retried with the same Idempotency-Key is debited once and answered the same", async () => {
    const session = uniqueId("idempotent");
    const headers = { "idempotency-key": "order-77/attempt" };
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => decide(readInput(session, 500), headers)));
    const late = await decide(readInput(session, 500), headers);
    const all = [a, b, c, late];
    expect(all.every((answer) => answer.decision === "allow")).toBe(true);
    expect(all.filter((answer) => !answer.session.replayed).length).toBe(1);
    const original = all.find((answer) => !answer.session.replayed)!;
    expect(all.filter((answer) => answer.session.replayed).every((answer) => answer.session.replay_of === original.decision_id)).toBe(true);
    expect((await sessionStub(session, "agent-7").view()).usage).toMatchObject({ tokens: 500, api_calls: 1 });
    // Every replay carries the original decision's receipt claims: its id, its time, its expiry.
    // A replay is never a new proof (a tool server serving each jti once serves the action once) nor a later expiry.
    const claims = (answer: DecisionBody) => decodeReceipt(answer.receipt as string).claims;
    for (const replay of all.filter((answer) => answer.session.replayed)) {
      expect(Math.floor(Date.parse(replay.session.replay_of_at) / 1000)).toBe(claims(original).iat);
      expect(claims(replay)).toMatchObject({ jti: original.decision_id, iat: claims(original).iat, exp: claims(original).exp, decision: "allow" });
      expect(replay.decision_id).not.toBe(original.decision_id);
    }

    // A different key is a different request; the same key for a different action is refused.
    expect((await decide(readInput(session, 500), { "idempotency-key": "order-78" })).session.replayed).toBeUndefined();
    const reused = await decideRaw(readInput(session, 900), headers);
    expect(reused.status).toBe(409);
    expect(await reused.json()).toMatchObject({ error: { code: "idempotency_conflict" } });
    const malformed = await decideRaw(readInput(session, 1), { "idempotency-key": "has spaces in it" });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: "invalid_idempotency_key" } });
    expect((await sessionStub(session, "agent-7").view()).usage).toMatchObject({ tokens: 1000, api_calls: 2 });
  });

  it("wall-clock time counts from the session's first decision", async () => {
    const session = uniqueId("wall-clock");
    const stub = sessionStub(session);
    await stub.commit(commit({ session_id: session, now_ms: Date.now() - 2 * 3600_000 }));
    const late = await stub.commit(commit({ session_id: session, limits: { wall_clock_s: 3600 } }));
    expect(late.verdict).toBe("deny");
    expect(late.reasons[0]).toMatchObject({ rule: "budget_exhausted" });
    expect(late.reasons[0].message).toContain("wall_clock_s");
  });

  it("when the policy could name no limits, the session's last known limits still apply", async () => {
    const session = uniqueId("remembered");
    const stub = sessionStub(session);
    expect((await stub.commit(commit({ session_id: session, limits: { tokens: 10 }, cost: { tokens: 6, api_calls: 1, cost_usd: 0 } }))).verdict).toBe("allow");
    const unnamed = await stub.commit(commit({ session_id: session, limits: {}, cost: { tokens: 6, api_calls: 1, cost_usd: 0 } }));
    expect(unnamed.verdict).toBe("deny");
    expect(unnamed.reasons[0].rule).toBe("budget_exhausted");
  });

  it("a decision no policy answered (a fail mode that fails open) debits the action's estimate, and is refused once it does not fit", async () => {
    const session = uniqueId("fail-open");
    const stub = sessionStub(session);
    const fallback = fallbackParams(BASELINE_POLICY.data, "low", "support", "tickets.read");
    expect(fallback.fail_mode).toBe("open");
    const limits = fallback.budget.limits as Record<string, number>;
    const input = (estimate: { tokens: number; cost_usd: number }) =>
      ({
        tenant: "acme",
        risk_tier: "low",
        agent: { id: "agent-1", role: "support", scopes: [], delegation_depth: 0 },
        session: { id: session },
        action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" }, estimate },
        identity: { delegation: { depth: 0 } },
      }) as unknown as DecisionInput;
    const unanswered = failModeDecision(fallback, "global", "sandbox_unavailable", "the sandbox could not be reached");
    expect(unanswered.decision).toBe("allow");
    const first = await buildCommit(input({ tokens: 500, cost_usd: limits.cost_usd - 1 }), unanswered, fallback, uniqueId("d"), Date.now());
    expect(first.cost).toEqual({ tokens: 500, api_calls: 1, cost_usd: limits.cost_usd - 1 });
    expect((await stub.commit(first)).verdict).toBe("allow");
    // The session has a dollar left: an action estimated at five is refused, though the policy could not say so.
    const second = await stub.commit(await buildCommit(input({ tokens: 0, cost_usd: 5 }), unanswered, fallback, uniqueId("d"), Date.now()));
    expect(second.verdict).toBe("deny");
    expect(second.reasons[0].rule).toBe("budget_exhausted");
    expect(second.usage.cost_usd).toBe(limits.cost_usd - 1);
  });

  it("decision ids are remembered for a day: the alarm then forgets them", async () => {
    const session = uniqueId("retention");
    const stub = sessionStub(session);
    const dayAndHourAgo = Date.now() - 25 * 3600_000;
    const old = Array.from({ length: 100 }, () => commit({ session_id: session, now_ms: dayAndHourAgo }));
    for (const request of old) await stub.commit(request);
    expect((await stub.commit(old[0])).replayed).toBe(true);
    // Scheduled by the 100th decision for a day after it, which is already past.
    await fireAlarm(stub);
    const remembered = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM decisions").one().n);
    expect(remembered).toBe(0);
  });
});

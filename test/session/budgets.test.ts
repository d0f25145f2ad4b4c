/**
 * Budgets are exact under concurrency: the check and the debit are one
 * atomic step in the session's object, and a decision id is debited once no
 * matter how often it arrives.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { CommitResult } from "../../src/session/types";
import { commit, decide, refundInput, uniqueId } from "./helpers";

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
});

/**
 * When the session's object is overloaded, slow or failing, the edge applies
 * the risk tier's fail mode and says what happened; an overloaded object is
 * never retried.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sessionObject } from "../../src/session/objects";
import type { SessionDO as DrillSessionDO } from "../worker/test-entry";
import { decide, uniqueId } from "./helpers";

function readInput(session: string, tier: string) {
  return {
    risk_tier: tier,
    tenant: "acme",
    agent: { id: "agent-1", role: "support" },
    session: { id: session },
    action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } },
  };
}

/** The session's object as the tests' Worker has it, with its drill hook (test/worker/test-entry.ts). */
const stubFor = (session: string) => sessionObject(env, "acme", "agent-1", session) as unknown as DurableObjectStub<DrillSessionDO>;

describe("session state faults", () => {
  it("overloaded: critical fails closed, low fails open and is flagged, and neither is retried", async () => {
    const session = uniqueId("overloaded");
    await stubFor(session).injectFault({ kind: "overloaded", remaining: 2 });
    const critical = await decide(readInput(session, "critical"));
    expect(critical.decision).toBe("deny");
    expect(critical.reasons.map((r: { rule: string }) => r.rule)).toEqual(["session_state_unavailable"]);
    expect(critical.session).toMatchObject({ status: "unavailable", fault: "overloaded", retried: false, fail_mode_applied: "closed" });
    const low = await decide(readInput(session, "low"));
    expect(low.decision).toBe("allow");
    expect(low.session).toMatchObject({ status: "unavailable", fault: "overloaded", retried: false, fail_mode_applied: "open" });
    // Two faults were injected and two decisions consumed exactly two: no retry hit the object.
    const healthy = await decide(readInput(session, "critical"));
    expect(healthy.session.status).toBe("ok");
    expect(healthy.session.usage.api_calls).toBe(1);
  });

  it("overloaded, for an action that reaches outside: refused while this edge has never seen the session's taint, the tier's fail mode once it has", async () => {
    const session = uniqueId("overloaded-outside");
    const email = { risk_tier: "medium", tenant: "acme", agent: { id: "agent-1", role: "support" }, session: { id: session }, action: { type: "tool_call", tool: "email.send", args: { to: "x@example.test" } } };
    await stubFor(session).injectFault({ kind: "overloaded", remaining: 1 });
    // Keeping one's own session object busy must not be a way around its taint.
    const unseen = await decide(email);
    expect(unseen.decision).toBe("deny");
    expect(unseen.reasons.map((r: { rule: string }) => r.rule)).toEqual(["session_taint_unknown"]);
    expect(unseen.session).toMatchObject({ status: "unavailable", fault: "overloaded", fail_mode_applied: "open" });
    // An internal read at the same tier keeps the open fail mode.
    const read = await decide(readInput(session, "medium"));
    expect(read.session.status).toBe("ok");
    // Now this edge has heard the session's classes (none): medium fails open for the external call too.
    await stubFor(session).injectFault({ kind: "overloaded", remaining: 1 });
    const seen = await decide(email);
    expect(seen.decision).toBe("allow");
    expect(seen.session).toMatchObject({ status: "unavailable", fault: "overloaded", fail_mode_applied: "open" });
  });

  it("retryable: retried once, which is safe because the debit is idempotent", async () => {
    const session = uniqueId("retryable");
    await stubFor(session).injectFault({ kind: "retryable", remaining: 1 });
    const answer = await decide(readInput(session, "critical"));
    expect(answer.decision).toBe("allow");
    expect(answer.session).toMatchObject({ status: "ok", retried: true });
    expect(answer.session.usage.api_calls).toBe(1);
  });

  it("retryable twice: retried only once, then the tier's fail mode applies", async () => {
    const session = uniqueId("flaky");
    await stubFor(session).injectFault({ kind: "retryable", remaining: 2 });
    const medium = await decide(readInput(session, "medium"));
    expect(medium.decision).toBe("allow");
    expect(medium.session).toMatchObject({ status: "unavailable", fault: "error", retried: true, fail_mode_applied: "open" });
    // Both injected failures were spent by those two attempts; a third attempt would have debited.
    const healthy = await decide(readInput(session, "medium"));
    expect(healthy.session).toMatchObject({ status: "ok", usage: { api_calls: 1 } });
  });

  it("slower than the timeout: the tier's fail mode applies", async () => {
    const session = uniqueId("slow");
    await stubFor(session).injectFault({ kind: "slow", remaining: 1, delayMs: 1500 });
    const high = await decide(readInput(session, "high"));
    expect(high.decision).toBe("deny");
    expect(high.session).toMatchObject({ status: "unavailable", fault: "timeout" });
  });
});

/**
 * Insights from the decision log: decisions over time by outcome, the
 * rules that deny most, the agents with the most denials and approvals
 * asked, and time to approval, counted from real decisions of a tenant of
 * their own, the same through the admin API and the console's charts.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chainFor } from "../../src/audit/writer";
import type { Insights } from "../../src/routes/admin-insights";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, decide, fireAlarm, refundInput, sessionStub, uniqueId } from "../session/helpers";
import { signIn } from "./console-client";

describe("insights", () => {
  it("counts a tenant's decisions by outcome, rule and agent, and how long approvals took", async () => {
    const tenant = uniqueId("ins").toLowerCase().replace(/[^a-z0-9-]/g, "-");
    const input = (agent: string, amount: number, session = uniqueId("s")) => ({ ...refundInput(session, amount), tenant, agent: { id: agent, role: "finance" }, risk_tier: "critical" });
    for (const amount of [100_000, 200_000]) expect((await decide(input("agent-a", amount))).decision).toBe("deny");
    expect((await decide(input("agent-b", 300_000))).decision).toBe("deny");
    expect((await decide(input("agent-b", 10))).decision).toBe("allow");
    const session = uniqueId("s");
    const asked = await decide(input("agent-b", 900, session));
    expect(asked.decision).toBe("require_approval");
    await fireAlarm(sessionStub(session, "agent-b", tenant));
    // No test token approves for every tenant: the approval is decided at the session object, as the admin route does.
    const decided = await sessionStub(session, "agent-b", tenant).decideApproval(asked.session.approval.id, tenant, "approved", "test-approver", "ok");
    expect(decided.ok).toBe(true);
    await fireAlarm(sessionStub(session, "agent-b", tenant));
    expect((await chainFor(env, tenant).stats()).entries).toBe(5);

    const response = await admin(`/insights/${tenant}?days=1`, TEST_TOKENS.operator);
    expect(response.status).toBe(200);
    const insights = await response.json<Insights>();
    const totals = insights.over_time.reduce((t, c) => ({ allow: t.allow + c.allow, deny: t.deny + c.deny, require_approval: t.require_approval + c.require_approval }), { allow: 0, deny: 0, require_approval: 0 });
    expect(totals).toEqual({ allow: 1, deny: 3, require_approval: 1 });
    expect(insights.over_time).toHaveLength(24);
    expect(insights.top_deny_rules[0]).toEqual({ rule: "refund_over_hard_cap", n: 3 });
    expect(insights.top_denied_agents).toEqual([{ agent: "agent-a", n: 2 }, { agent: "agent-b", n: 1 }]);
    expect(insights.top_approval_agents).toEqual([{ agent: "agent-b", n: 1 }]);
    expect(insights.time_to_approval.decided).toBe(1);
    expect(insights.time_to_approval.buckets[0]).toEqual({ label: "under 1 min", n: 1 });

    const auditor = await signIn(TEST_TOKENS.operator);
    const page = await (await auditor.get(`/console/insights/${tenant}?days=1`)).text();
    expect(page).toContain("5 decisions from");
    expect(page).toContain("<title>refund_over_hard_cap: 3</title>");
    expect(page).toContain("<title>agent-a: 2</title>");
    expect(page).toContain("1 decided; median");
    expect(page).toContain(`/console/decisions/${tenant}?`);
  });

  it("is refused to another tenant's people and to roles without auditor; a bad period is a 400", async () => {
    const initech = await signIn(TEST_TOKENS.initechEverything);
    expect((await initech.get("/console/insights/acme")).status).toBe(403);
    expect((await admin("/insights/acme", TEST_TOKENS.initechEverything)).status).toBe(403);
    const approver = await signIn(TEST_TOKENS.acmeApprover);
    expect((await approver.get("/console/insights/acme")).status).toBe(403);
    const auditor = await signIn(TEST_TOKENS.acmeAuditor);
    expect((await auditor.get("/console/insights/acme?days=2")).status).toBe(400);
    const empty = await (await auditor.get("/console/insights/acme?days=30")).text();
    expect(empty).toContain("Insights for acme");
  });
});

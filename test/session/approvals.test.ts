/**
 * Approvals end to end over HTTP: a require_approval decision creates a
 * pending approval bound to the exact action; an approver of that tenant
 * approves it with a reason; the exact action is then allowed once, a changed
 * action is not, and an approval is never used twice — nor used up by a
 * decision that was denied anyway.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ApprovalRecord } from "../../src/session/types";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, agentFetch, commit, decide, fireAlarm, refundInput, sessionStub, uniqueId } from "./helpers";

const rules = (body: { reasons: Array<{ rule: string }> }) => body.reasons.map((r) => r.rule);

const approve = (id: string, reason: string, token: string = TEST_TOKENS.acmeApprover, tenant = "acme") =>
  admin(`/approvals/${tenant}/${id}`, token, { method: "POST", body: JSON.stringify({ decision: "approve", reason }) });

async function listed(status: string, token: string = TEST_TOKENS.acmeApprover): Promise<ApprovalRecord[]> {
  return (await (await admin(`/approvals/acme?status=${status}`, token)).json<{ approvals: ApprovalRecord[] }>()).approvals;
}

async function approvalOf(id: string): Promise<ApprovalRecord> {
  return (await admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover)).json<ApprovalRecord>();
}

describe("approvals", () => {
  it("pending → approved → the exact action allowed once; a changed action still needs approval; a second use is refused", async () => {
    const session = uniqueId("approve");
    const asked = await decide(refundInput(session, 900));
    expect(asked.decision).toBe("require_approval");
    expect(asked.session.approval).toMatchObject({ status: "pending" });
    const id = asked.session.approval.id as string;
    expect(id).toMatch(/^apr_[0-9a-f]{64}_[0-9a-f]{24}$/);

    // Asking again for the same action reuses the pending approval instead of piling up duplicates.
    expect((await decide(refundInput(session, 900))).session.approval.id).toBe(id);

    // The session's alarm sends the new approval to the tenant's index, where approvers list it.
    await fireAlarm(sessionStub(session, "agent-7"));
    const pending = await listed("pending");
    expect(pending.find((a) => a.id === id)).toMatchObject({ session_id: session, agent_id: "agent-7", status: "pending" });
    expect((await admin("/approvals/initech?status=pending", TEST_TOKENS.acmeApprover)).status).toBe(403);
    expect((await admin("/approvals/acme", undefined)).status).toBe(401);
    expect((await admin("/approvals/acme", TEST_TOKENS.acmeOperator)).status).toBe(403);

    // The agent long-polls while the approver decides.
    const waiting = agentFetch(`/v1/approvals/${id}?wait=10`);
    const approved = await approve(id, "customer is eligible, ticket T-42");
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ status: "approved", decided_by: "acme-finance-lead", reason: "customer is eligible, ticket T-42" });
    const woken = await (await waiting).json<Record<string, unknown>>();
    expect(woken).toMatchObject({ id, status: "approved" });
    expect(woken.action_hash).toBeUndefined();

    const changed = await decide(refundInput(session, 950, { approval_id: id }));
    expect(changed.decision).toBe("require_approval");
    expect(changed.session.reasons[0]).toMatchObject({ rule: "approval_not_valid" });
    expect(changed.session.reasons[0].message).toContain("different action");

    const allowed = await decide(refundInput(session, 900, { approval_id: id }));
    expect(allowed.decision).toBe("allow");
    expect(allowed.session).toMatchObject({ approval: { id, status: "used" }, changed: { from: "require_approval", to: "allow" } });

    const reused = await decide(refundInput(session, 900, { approval_id: id }));
    expect(reused.decision).toBe("require_approval");
    expect(rules(reused)).toContain("approval_not_valid");
    expect(reused.session.reasons[0].message).toContain("already been used");

    // Who approved, when, why, and which decision used it, are kept.
    const record = await approvalOf(id);
    expect(record).toMatchObject({ status: "used", decided_by: "acme-finance-lead", reason: "customer is eligible, ticket T-42", used_by: allowed.decision_id });
    expect(Date.parse(record.decided_at!)).toBeLessThanOrEqual(Date.parse(record.used_at!));
    await fireAlarm(sessionStub(session, "agent-7"));
    expect((await listed("used")).find((a) => a.id === id)).toMatchObject({ used_by: allowed.decision_id });
  });

  it("an approval covers only the reasons its approver saw: one asked for since (the session read PII) needs a new approval", async () => {
    const spec = { tenant: "acme", agent: "drift-agent", role: "support" };
    const session = uniqueId("drift");
    // Three write steps, one of them an external tool: approval for the writes while the session is clean.
    const plan = (extra: Record<string, unknown> = {}) => ({
      tenant: "acme",
      agent: { id: spec.agent, role: spec.role },
      session: { id: session },
      action: { type: "plan", steps: [{ tool: "tickets.write", args: { id: "T-1" } }, { tool: "email.send", args: { to: "partner@example.test" } }, { tool: "slack.post", args: { channel: "#x" } }] },
      ...extra,
    });
    const asked = await decide(plan());
    expect(asked.decision).toBe("require_approval");
    expect(rules(asked)).toEqual(["plan_write_steps_require_approval"]);
    const id = asked.session.approval.id as string;
    expect((await approvalOf(id)).action_summary).toContain('"steps":["tickets.write","email.send","slack.post"]');
    expect((await approve(id, "routine writes")).status).toBe(200);

    const reported = await agentFetch(`/v1/sessions/${session}/data-classes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ data_classes: ["pii"] }) }, spec);
    expect(reported.status).toBe(200);
    const now = await decide(plan({ approval_id: id }));
    expect(rules(now)).toContain("session_data_to_external_tool");
    expect(now.decision).toBe("require_approval");
    expect(rules(now)).toContain("approval_not_valid");
    expect(now.reasons.find((r) => r.rule === "approval_not_valid")?.message).toContain("session_data_to_external_tool");
    // The old approval is untouched, and a new one asks with every reason.
    expect((await approvalOf(id)).status).toBe("approved");
    const renewed = await approvalOf(now.session.approval.id as string);
    expect(renewed.id).not.toBe(id);
    expect([...new Set(renewed.context?.reasons.map((r) => r.rule))].sort()).toEqual(["plan_write_steps_require_approval", "session_data_to_external_tool"]);
  });

  it("a rejection is recorded and the action stays blocked", async () => {
    const session = uniqueId("reject");
    const asked = await decide(refundInput(session, 700));
    const id = asked.session.approval.id as string;
    const rejected = await admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover, { method: "POST", body: JSON.stringify({ decision: "reject", reason: "duplicate refund" }) });
    expect(await rejected.json()).toMatchObject({ status: "rejected", reason: "duplicate refund", decided_by: "acme-finance-lead" });
    const again = await approve(id, "changed my mind");
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: "approval_not_pending" } });
    const retry = await decide(refundInput(session, 700, { approval_id: id }));
    expect(retry.decision).toBe("require_approval");
    expect(retry.session.reasons[0].message).toContain("rejected");
  });

  it("an approval is used only by a decision that is allowed: with the breaker open it stays approved", async () => {
    const session = uniqueId("breaker-approval");
    const id = (await decide(refundInput(session, 800))).session.approval.id as string;
    await approve(id, "ok");
    const stub = sessionStub(session, "agent-7");
    const breaker = { threshold: 3, window_s: 300, cooldown_s: 0 };
    for (let i = 0; i < 3; i++) await stub.commit(commit({ session_id: session, verdict: "deny", breaker }));

    const blocked = await decide(refundInput(session, 800, { approval_id: id }));
    expect(blocked.decision).toBe("deny");
    expect(rules(blocked)).toContain("circuit_open");
    expect((await approvalOf(id)).status).toBe("approved");

    await admin(`/sessions/acme/agent-7/${session}/breaker/reset`, TEST_TOKENS.acmeOperator, { method: "POST" });
    const allowed = await decide(refundInput(session, 800, { approval_id: id }));
    expect(allowed.decision).toBe("allow");
    expect((await approvalOf(id)).status).toBe("used");
  });

  it("another tenant's approver can neither see nor decide an approval, even knowing its id", async () => {
    const session = uniqueId("cross-tenant");
    const id = (await decide(refundInput(session, 600))).session.approval.id as string;
    expect((await approve(id, "mine now", TEST_TOKENS.initechApprover)).status).toBe(403);
    const asInitech = await approve(id, "mine now", TEST_TOKENS.initechApprover, "initech");
    expect(asInitech.status).toBe(404);
    expect((await approvalOf(id)).status).toBe("pending");
  });

  it("rejects malformed approval requests with a clear 4xx", async () => {
    const session = uniqueId("malformed");
    const id = (await decide(refundInput(session, 600))).session.approval.id as string;
    const badDecision = await admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover, { method: "POST", body: JSON.stringify({ decision: "maybe", reason: "?" }) });
    expect(badDecision.status).toBe(400);
    expect(await badDecision.json()).toMatchObject({ error: { code: "invalid_input", path: "decision" } });
    const noReason = await admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "  " }) });
    expect(noReason.status).toBe(400);
    const badId = await agentFetch("/v1/approvals/apr_123");
    expect(badId.status).toBe(400);
    expect(await badId.json()).toMatchObject({ error: { code: "invalid_approval_id" } });
    expect((await agentFetch(`/v1/approvals/apr_${"ab".repeat(32)}_${"0".repeat(24)}`)).status).toBe(404);
    expect((await agentFetch(`/v1/approvals/${id}?wait=soon`)).status).toBe(400);
    const badInput = await agentFetch("/v1/decide", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(refundInput(session, 600, { approval_id: "apr_nope" })),
    });
    expect(await badInput.json()).toMatchObject({ error: { code: "invalid_input", path: "approval_id" } });
  });

  it("expires what nobody decided when the alarm fires, tells the index, and the approval can no longer be used", async () => {
    const session = uniqueId("expiry");
    const stub = sessionStub(session);
    const hourAgo = Date.now() - 3_600_000;
    const asked = await stub.commit(commit({ session_id: session, verdict: "require_approval", now_ms: hourAgo, approval_ttl_s: 60 }));
    const id = asked.approval!.id;
    await fireAlarm(stub);
    const stored = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec<{ status: string }>("SELECT status FROM approvals WHERE id = ?", id).one().status);
    expect(stored).toBe("expired");
    expect((await listed("expired")).map((a) => a.id)).toContain(id);
    const late = await stub.commit(commit({ session_id: session, verdict: "require_approval", approval_id: id }));
    expect(late.reasons[0].message).toContain("it is expired");
  });

  it("long-polls for the MCP gateway's elicitation notices: news at once, a decision wakes it, an expiry is told on time, only this agent's approvals since the session began", async () => {
    const session = uniqueId("notices");
    const stub = sessionStub(session);
    const began = Date.now();
    const ask = (hash: string, extra: Partial<Parameters<typeof commit>[0]> = {}) =>
      stub.commit(commit({ session_id: session, verdict: "require_approval", action_hash: hash.repeat(64), ...extra }));
    // Asked for before the MCP session began: not one of its elicitations.
    await ask("1", { now_ms: began - 10_000 });
    const rejected = (await ask("2")).approval!.id;
    const expiring = (await ask("3", { approval_ttl_s: 1 })).approval!.id;

    // A stream that opens hears at once which are pending; none has ended yet.
    const opened = await stub.approvalChanges("agent-1", began, null, 5_000);
    expect(opened.pending.sort()).toEqual([rejected, expiring].sort());
    expect(opened.settled).toEqual([]);

    // With nothing new it waits, and a decision wakes it.
    const waiting = stub.approvalChanges("agent-1", began, opened.pending, 20_000);
    const decidedAt = Date.now();
    expect((await stub.decideApproval(rejected, "acme", "rejected", "approver@acme", "no")).ok).toBe(true);
    const woken = await waiting;
    expect(Date.now() - decidedAt).toBeLessThan(5_000);
    expect(woken).toEqual({ pending: [expiring], settled: [{ id: rejected, status: "rejected" }] });

    // The next one to end expires unattended: told at its expiry, not at the poll's timeout.
    const polledAt = Date.now();
    const expired = await stub.approvalChanges("agent-1", began, woken.pending, 20_000);
    expect(expired).toEqual({ pending: [], settled: [{ id: expiring, status: "expired" }] });
    expect(Date.now() - polledAt).toBeLessThan(5_000);

    // A stream opened later names again what ended unused, and nothing from before the session began.
    const reopened = await stub.approvalChanges("agent-1", began, null, 5_000);
    expect(reopened.settled.map((change) => change.id).sort()).toEqual([rejected, expiring].sort());
    expect(reopened.pending).toEqual([]);
    // Another agent's view of this object names nothing.
    expect(await stub.approvalChanges("agent-2", began, null, 5_000)).toEqual({ pending: [], settled: [] });
  });

  it("a hibernating WebSocket hears the decision even after the session's object was evicted", async () => {
    const session = uniqueId("socket");
    const id = (await decide(refundInput(session, 650))).session.approval.id as string;
    const upgraded = await agentFetch(`/v1/approvals/${id}`, { headers: { upgrade: "websocket" } });
    expect(upgraded.status).toBe(101);
    const socket = upgraded.webSocket!;
    socket.accept();
    const heard = new Promise<{ message: Record<string, unknown>; code: number }>((resolve) => {
      let message: Record<string, unknown> = {};
      socket.addEventListener("message", (event) => {
        message = JSON.parse(event.data as string);
      });
      socket.addEventListener("close", (event) => resolve({ message, code: event.code }));
    });
    await evictDurableObject(sessionStub(session, "agent-7"));
    await approve(id, "approved while the object slept");
    const { message, code } = await heard;
    expect(message).toMatchObject({ id, status: "approved", reason: "approved while the object slept" });
    expect(code).toBe(1000);
  });
});

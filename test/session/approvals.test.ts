/**
 * Approvals end to end over HTTP: a require_approval decision creates a
 * pending approval bound to the exact action; an approver of that tenant
 * approves it with a reason; the exact action is then allowed once, a changed
 * action is not, and an approval is never used twice.
 */
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, commit, decide, refundInput, uniqueId } from "./helpers";

const rules = (body: { reasons: Array<{ rule: string }> }) => body.reasons.map((r) => r.rule);

describe("approvals", () => {
  it("pending → approved → the exact action allowed once; a changed action still needs approval", async () => {
    const session = uniqueId("approve");
    const asked = await decide(refundInput(session, 900));
    expect(asked.decision).toBe("require_approval");
    const id = asked.session.approval.id as string;
    expect(asked.session.approval.status).toBe("pending");

    const listed = await (await admin("/approvals/acme?status=pending", TEST_TOKENS.acmeApprover)).json<{ approvals: Array<{ id: string; action_summary: string }> }>();
    expect(listed.approvals.map((a) => a.id)).toContain(id);
    expect((await admin("/approvals/initech?status=pending", TEST_TOKENS.acmeApprover)).status).toBe(403);
    expect((await admin("/approvals/acme", undefined)).status).toBe(401);

    // The agent long-polls while the approver decides.
    const waiting = exports.default.fetch(`http://edge/v1/approvals/acme/${id}?wait=10`);
    const approved = await admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover, {
      method: "POST",
      body: JSON.stringify({ decision: "approve", reason: "customer is eligible, ticket T-42" }),
    });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ status: "approved", decided_by: "acme-finance-lead", reason: "customer is eligible, ticket T-42" });
    expect(await (await waiting).json()).toMatchObject({ id, status: "approved" });

    const changed = await decide(refundInput(session, 950, { approval_id: id }));
    expect(changed.decision).toBe("require_approval");
    expect(changed.session.reasons[0].message).toContain("different action");

    const allowed = await decide(refundInput(session, 900, { approval_id: id }));
    expect(allowed.decision).toBe("allow");
    expect(allowed.session).toMatchObject({ approval: { id, status: "used" }, changed: { from: "require_approval", to: "allow" } });

    const reused = await decide(refundInput(session, 900, { approval_id: id }));
    expect(reused.decision).toBe("require_approval");
    expect(rules(reused)).toContain("approval_not_valid");
    expect(reused.session.reasons[0].message).toContain("already been used");
  });

  it("a rejection is recorded and the action stays blocked", async () => {
    const session = uniqueId("reject");
    const asked = await decide(refundInput(session, 700));
    const id = asked.session.approval.id as string;
    const rejected = await admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover, { method: "POST", body: JSON.stringify({ decision: "reject", reason: "duplicate refund" }) });
    expect(await rejected.json()).toMatchObject({ status: "rejected", reason: "duplicate refund" });
    const again = await admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "changed my mind" }) });
    expect(again.status).toBe(409);
    const retry = await decide(refundInput(session, 700, { approval_id: id }));
    expect(retry.decision).toBe("require_approval");
    expect(retry.session.reasons[0].message).toContain("rejected");
  });

  it("rejects a malformed approval decision with a clear 400", async () => {
    const response = await admin(`/approvals/acme/apr_${"0".repeat(24)}`, TEST_TOKENS.acmeApprover, { method: "POST", body: JSON.stringify({ decision: "maybe" }) });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_input" } });
  });

  it("expires what nobody decided, when the alarm fires", async () => {
    const approvals = env.APPROVALS.get(env.APPROVALS.idFromName("expiry-tenant"));
    const created = await approvals.create(commit({ session_id: uniqueId("exp"), tenant: "expiry-tenant", verdict: "require_approval", now_ms: Date.now() - 7_200_000, approval_ttl_s: 60 }));
    expect(created.status).toBe("pending");
    expect(await runDurableObjectAlarm(approvals)).toBe(true);
    expect(await approvals.get(created.id)).toMatchObject({ status: "expired" });
  });
});

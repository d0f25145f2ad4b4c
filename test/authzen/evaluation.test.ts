/**
 * POST /access/v1/evaluation: the AuthZEN Access Evaluation API (§6) in front
 * of the same pipeline as /v1/decide. The spec's example request decided
 * with the agent as its subject; each mapping of action and resource; the
 * response's exact shape and headers; allow, deny and approval as booleans
 * with Tollgate's answer in the context; an approval waited on through the
 * link the context gives and used by sending the same evaluation again.
 */
import { runInDurableObject } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { verifyReceipt } from "../../packages/agent/src/receipt";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, sessionStub, uniqueId } from "../session/helpers";
import { bearer } from "../identity/credentials";
import { FINANCE, evaluate, evaluation, post, readTicket, receiptKeys, refund, subjectOf, toolCall, usageOf } from "./authzen-client";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const rules = (decision: { context?: Record<string, any> }) => (decision.context?.reasons as Array<{ rule: string }>).map((r) => r.rule);

describe("the Access Evaluation API's shapes", () => {
  it("decides the spec's example request (§6.1) with the agent as its subject: 200, JSON, a boolean decision and a context", async () => {
    const session = uniqueId("az-example");
    // The example of §6.1 word for word, but for its subject, which must be the authenticated agent.
    const request = {
      subject: subjectOf(),
      resource: { type: "account", id: "123" },
      action: { name: "can_read", properties: { method: "GET" } },
      context: { time: "1985-10-26T01:22-07:00", session: { id: session } },
    };
    const response = await post("/access/v1/evaluation", request);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await response.json<{ decision: boolean; context: Record<string, any> }>();
    expect(Object.keys(body).sort()).toEqual(["context", "decision"]);
    // can_read on an account is the tool account.can_read, which no policy registers.
    expect(body.decision).toBe(false);
    expect(body.context).toMatchObject({ outcome: "deny", risk_tier: "critical" });
    expect(rules(body)).toContain("unknown_tool");
    expect(body.context.decision_id).toMatch(UUID_V7);
    expect(response.headers.get("x-tollgate-decision-id")).toBe(body.context.decision_id);
    expect(body.context.policy_key).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("maps allow to true and deny to false, with the rules that fired, and the session's budget applies", async () => {
    const session = uniqueId("az-allow-deny");
    const allowed = await evaluate(evaluation(session, readTicket()));
    expect(allowed).toEqual({ decision: true, context: expect.objectContaining({ outcome: "allow", reasons: [], risk_tier: "low" }) });
    const denied = await evaluate(evaluation(session, refund(99_999)));
    expect(denied.decision).toBe(false);
    expect(denied.context).toMatchObject({ outcome: "deny", risk_tier: "high" });
    expect(rules(denied)).toContain("refund_over_hard_cap");
    // Both went through the session's object: the allowed call was debited, the denied one not.
    expect((await usageOf(session)).api_calls).toBe(1);
  });

  it("maps each action: tool_call and tools/call on a tool, an enforcement point's own verb on a resource type, a plan, a spawn", async () => {
    const session = uniqueId("az-actions");
    expect((await evaluate(evaluation(session, { action: { name: "tools/call" }, resource: { type: "tool", id: "tickets.read" } }))).decision).toBe(true);
    // "read" on a "tickets" resource is the tool tickets.read; "delete" on it is tickets.delete, which no policy knows.
    expect((await evaluate(evaluation(session, { action: { name: "read" }, resource: { type: "tickets", id: "T-7" } }))).decision).toBe(true);
    const unknown = await evaluate(evaluation(uniqueId("az-verb"), { action: { name: "delete" }, resource: { type: "tickets", id: "T-7" } }));
    expect(rules(unknown)).toContain("unknown_tool");
    // A plan's steps are the plan resource's properties; one step the role may not take denies it.
    const plan = (steps: unknown[]) => evaluation(session, { action: { name: "plan" }, resource: { type: "plan", id: "p-1", properties: { steps } } });
    expect((await evaluate(plan([{ tool: "tickets.read" }, { tool: "crm.read_customer" }]))).decision).toBe(true);
    const forbidden = await evaluate(plan([{ tool: "tickets.read" }, { tool: "shell.exec", args: { command: "ls" } }]));
    expect(forbidden.decision).toBe(false);
    expect(rules(forbidden)).toContain("plan_step_tool_not_allowed");
    // A tool call names its tool as a resource of type "tool".
    const wrongType = await post("/access/v1/evaluation", evaluation(session, { action: { name: "tool_call" }, resource: { type: "document", id: "tickets.read" } }));
    expect(wrongType.status).toBe(400);
    expect(await wrongType.text()).toContain("resource.type");
  });

  it("a spawn allowed through AuthZEN hands the child its credential, and the child is judged as itself", async () => {
    const parentSession = uniqueId("az-parent");
    const child = uniqueId("az-child");
    const spawned = await evaluate(evaluation(parentSession, { action: { name: "spawn_agent" }, resource: { type: "agent", id: child, properties: { role: "finance", scopes: [] } } }));
    expect(spawned.decision).toBe(true);
    const token = spawned.context?.delegated_credential?.token as string;
    expect(token.split(".")).toHaveLength(3);
    // The child's id is the edge's: the parent's, "!", and the name the spawn gave it.
    expect(spawned.context?.delegated_credential?.agent).toBe(`${subjectOf().id}!${child}`);
    const childEvaluation = {
      subject: { type: "agent", id: spawned.context?.delegated_credential?.agent as string, properties: { delegation_depth: 1 } },
      context: { session: { id: uniqueId("az-child-session"), parent_session_id: parentSession } },
      ...readTicket(),
    };
    expect((await evaluate(childEvaluation, { authorization: `Bearer ${token}` })).decision).toBe(true);
    // The child cannot claim to be its parent.
    const asParent = await post("/access/v1/evaluation", { ...childEvaluation, subject: subjectOf() }, { authorization: `Bearer ${token}` });
    expect(asParent.status).toBe(403);
  });

  it("ignores unknown fields (§10.1.1), accepts extra properties and reads null as absent (§11.5)", async () => {
    const session = uniqueId("az-lenient");
    const request = {
      ...evaluation(session, {
        subject: { ...subjectOf(), properties: { department: "Finance", tenant: "acme", role: "finance" } },
        action: { name: "tool_call", properties: { args: { id: "T-1" }, method: "GET" } },
        resource: { type: "tool", id: "tickets.read", properties: null },
      }),
      foo: "bar",
      futureField: { nested: true },
    };
    expect((await evaluate(request)).decision).toBe(true);
  });

  it("echoes X-Request-ID on answers and on errors (§10.1.3), and adds none when the request has none", async () => {
    const id = "bfe9eb29-ab87-4ca3-be83-a1d5d8305716";
    const session = uniqueId("az-request-id");
    const answered = await post("/access/v1/evaluation", evaluation(session, readTicket()), { "x-request-id": id });
    expect(answered.status).toBe(200);
    expect(answered.headers.get("x-request-id")).toBe(id);
    const refused = await post("/access/v1/evaluation", { subject: subjectOf() }, { "x-request-id": id });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("x-request-id")).toBe(id);
    const unauthenticated = await post("/access/v1/evaluation", evaluation(session, readTicket()), { "x-request-id": id, authorization: "" });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("x-request-id")).toBe(id);
    const batch = await post("/access/v1/evaluations", { ...evaluation(session, {}), evaluations: [readTicket()] }, { "x-request-id": "batch-1" });
    expect(batch.headers.get("x-request-id")).toBe("batch-1");
    const none = await post("/access/v1/evaluation", evaluation(session, readTicket()));
    expect(none.headers.get("x-request-id")).toBeNull();
  });

  it("carries the decision's signed receipt, which verifies offline against the action the evaluation maps to", async () => {
    const session = uniqueId("az-receipt");
    const allowed = await evaluate(evaluation(session, readTicket()));
    const keys = await receiptKeys();
    // The mapping is documented, so a verifier can rebuild the action: the tool, its arguments and the resource as sent.
    const action = { type: "tool_call", tool: "tickets.read", args: { id: "T-1" }, resource: { type: "tool", id: "tickets.read" } };
    const claims = await verifyReceipt(allowed.context?.receipt, { keys, expect: { tenant: "acme", agent: FINANCE.agent, session, action, decision: "allow" } });
    expect(claims.jti).toBe(allowed.context?.decision_id);
    const denied = await evaluate(evaluation(session, refund(99_999)));
    expect(await verifyReceipt(denied.context?.receipt, { keys })).toMatchObject({ decision: "deny", jti: denied.context?.decision_id, ttl_s: 0 });
    // A receipt is for its own action only.
    await expect(verifyReceipt(denied.context?.receipt, { keys, expect: { action } })).rejects.toThrow(/another action/);
  });

  it("a retry with the same Idempotency-Key is committed once and says which decision it repeats", async () => {
    const session = uniqueId("az-retry");
    const key = `retry-${session}`;
    const first = await evaluate(evaluation(session, readTicket()), { "idempotency-key": key });
    const again = await evaluate(evaluation(session, readTicket()), { "idempotency-key": key });
    expect(again.decision).toBe(true);
    expect(again.context?.replay_of).toBe(first.context?.decision_id);
    expect(again.context?.decision_id).not.toBe(first.context?.decision_id);
    expect((await usageOf(session)).api_calls).toBe(1);
    const changed = await post("/access/v1/evaluation", evaluation(session, toolCall("tickets.read", { id: "T-2" })), { "idempotency-key": key });
    expect(changed.status).toBe(409);
    expect(changed.headers.get("x-tollgate-error")).toBe("idempotency_conflict");
  });
});

describe("require_approval as an AuthZEN decision", () => {
  const approve = (id: string) => admin(`/approvals/acme/${id}`, TEST_TOKENS.acmeApprover, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "refund checked, ticket T-42" }) });

  it("is false, with the pending approval, where to wait for it and what to send again; the resent evaluation is allowed once", async () => {
    const session = uniqueId("az-approval");
    const asked = await evaluate(evaluation(session, refund(900)));
    expect(asked.decision).toBe(false);
    const context = asked.context!;
    expect(context.outcome).toBe("require_approval");
    expect(rules(asked)).toContain("refund_requires_approval");
    const approval = context.approval as Record<string, any>;
    expect(approval).toMatchObject({ status: "pending", retry_with: { context: { approval_id: approval.id } } });
    expect(approval.id).toMatch(/^apr_[0-9a-f]{64}_[0-9a-f]{24}$/);
    expect(Date.parse(approval.expires_at)).toBeGreaterThan(Date.now());
    expect(approval.wait).toBe(`https://edge.example/v1/approvals/${approval.id}?wait=60`);
    expect(approval.websocket).toBe(`wss://edge.example/v1/approvals/${approval.id}`);

    // The enforcement point waits where the context says, with the agent's own credential, while an approver decides.
    const waiting = exports.default.fetch(approval.wait, { headers: await bearer(FINANCE) });
    expect((await approve(approval.id)).status).toBe(200);
    const woken = await waiting;
    expect(woken.status).toBe(200);
    expect(await woken.json()).toMatchObject({ id: approval.id, status: "approved" });

    // The same evaluation again, with what retry_with says merged into its context.
    const resent = evaluation(session, refund(900));
    const retry = { ...resent, context: { ...(resent.context as object), ...approval.retry_with.context } };
    const allowed = await evaluate(retry);
    expect(allowed.decision).toBe(true);
    expect(allowed.context).toMatchObject({ outcome: "allow", approval: { id: approval.id, status: "used" } });
    expect(allowed.context?.approval.wait).toBeUndefined();
    const reused = await evaluate(retry);
    expect(reused.decision).toBe(false);
    expect(rules(reused)).toContain("approval_not_valid");
  });

  it("an approval is bound to the resource: granted for one customer's refund, it does not allow another's", async () => {
    const session = uniqueId("az-bound");
    const refundFor = (customer: string, approvalId?: string) =>
      evaluation(session, {
        action: { name: "tool_call", properties: { args: { amount: 800, currency: "EUR" } } },
        resource: { type: "tool", id: "payments.refund", properties: { customer } },
        context: { session: { id: session }, ...(approvalId ? { approval_id: approvalId } : {}) },
      });
    const id = (await evaluate(refundFor("C-1"))).context?.approval.id as string;
    await approve(id);
    const other = await evaluate(refundFor("C-2", id));
    expect(other.decision).toBe(false);
    expect(rules(other)).toContain("approval_not_valid");
    expect((await evaluate(refundFor("C-1", id))).decision).toBe(true);
  });

  it("an approval whose stored record was tampered with allows nothing, and the answer is still a 200", async () => {
    const session = uniqueId("az-tampered");
    const id = (await evaluate(evaluation(session, refund(700)))).context?.approval.id as string;
    await approve(id);
    // Someone with access to the object's storage points the approval at another action and garbles its state.
    await runInDurableObject(sessionStub(session, FINANCE.agent), async (_instance, state) => {
      state.storage.sql.exec("UPDATE approvals SET action_hash = ?, status = ? WHERE id = ?", "f".repeat(64), "approved\u0000", id);
    });
    const resent = evaluation(session, refund(700));
    const response = await post("/access/v1/evaluation", { ...resent, context: { session: { id: session }, approval_id: id } });
    expect(response.status).toBe(200);
    const answer = await response.json<{ decision: boolean; context: Record<string, any> }>();
    expect(answer.decision).toBe(false);
    expect(answer.context.outcome).toBe("require_approval");
    expect((await usageOf(session)).api_calls).toBe(0);
  });
});

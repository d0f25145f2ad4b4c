/**
 * POST /access/v1/evaluations: the AuthZEN Access Evaluations API (§7). The
 * spec's example batches (no defaults, shared subject and context, an
 * overridden action, options), each evaluation semantic proved by what the
 * session debited and what the audit log holds rather than by the length of
 * the answer, an item's own error answered closed in its place, and a
 * retried batch committed once.
 */
import { describe, expect, it } from "vitest";
import { verifyReceipt } from "../../packages/agent/src/receipt";
import { uniqueId } from "../session/helpers";
import { auditedIds, evaluateAll, evaluate, evaluation, post, readTicket, refund, subjectOf, toolCall, usageOf, type Decision, receiptKeys } from "./authzen-client";

const decisions = (answer: { evaluations: Decision[] }) => answer.evaluations.map((e) => e.decision);
const idsOf = (answer: { evaluations: Decision[] }) => answer.evaluations.map((e) => e.context?.decision_id as string);
const sessionContext = (session: string) => ({ session: { id: session } });

/** Allowed (debited), denied by the hard cap (not debited), allowed, allowed. */
const mixed = () => [readTicket(), refund(99_999), toolCall("tickets.read", { id: "T-2" }), toolCall("crm.read_customer", { id: "C-1" })];

describe("the spec's example batches", () => {
  it("three evaluations with no defaults (§7.1) are answered in order, one decision each", async () => {
    const session = uniqueId("az-nodefaults");
    const full = (parts: Record<string, unknown>) => ({ subject: subjectOf(), context: { time: "2024-05-31T15:22-07:00", ...sessionContext(session) }, ...parts });
    const answer = await evaluateAll({ evaluations: [full(readTicket()), full(refund(99_999)), full(toolCall("kb.search"))] });
    expect(Object.keys(answer)).toEqual(["evaluations"]);
    expect(decisions(answer)).toEqual([true, false, false]);
    expect(answer.evaluations[2].context?.reasons.map((r: { rule: string }) => r.rule)).toContain("tool_not_allowed_for_role");
    expect(new Set(idsOf(answer)).size).toBe(3);
  });

  it("a shared subject and context (§7.1.1) stand in for what the items leave out", async () => {
    const session = uniqueId("az-defaults");
    const answer = await evaluateAll({
      subject: subjectOf(),
      context: { time: "2024-05-31T15:22-07:00", ...sessionContext(session) },
      evaluations: [readTicket(), toolCall("crm.read_customer", { id: "C-1" }), refund(99_999)],
    });
    expect(decisions(answer)).toEqual([true, true, false]);
    expect((await usageOf(session)).api_calls).toBe(2);
  });

  it("a default action is overridden by the item that names its own (§7.1.1), whole", async () => {
    const session = uniqueId("az-override");
    const answer = await evaluateAll({
      subject: subjectOf(),
      context: sessionContext(session),
      action: { name: "tool_call", properties: { args: { id: "T-1" } } },
      evaluations: [
        { resource: { type: "tool", id: "tickets.read" } },
        { resource: { type: "tool", id: "kb.search" } },
        // Its own action replaces the default entirely: "read" on a tickets resource, no args inherited.
        { action: { name: "read" }, resource: { type: "tickets", id: "T-9" } },
      ],
    });
    expect(decisions(answer)).toEqual([true, false, true]);
  });

  it("a context of the item replaces the default context whole: the item runs in its own session", async () => {
    const shared = uniqueId("az-ctx-shared");
    const own = uniqueId("az-ctx-own");
    await evaluateAll({ subject: subjectOf(), context: sessionContext(shared), evaluations: [readTicket(), { ...readTicket(), context: sessionContext(own) }] });
    expect((await usageOf(shared)).api_calls).toBe(1);
    expect((await usageOf(own)).api_calls).toBe(1);
  });

  it("options (§7.1.2) name the semantic; an option Tollgate does not know is ignored", async () => {
    const session = uniqueId("az-options");
    const answer = await evaluateAll({
      subject: subjectOf(),
      context: sessionContext(session),
      evaluations: [readTicket()],
      options: { evaluations_semantic: "execute_all", another_option: "value" },
    });
    expect(decisions(answer)).toEqual([true]);
  });

  it("without evaluations, or with none, the request is one evaluation and answered as one (§7.1)", async () => {
    for (const evaluations of [undefined, [], null]) {
      const answer = await evaluate({ ...evaluation(uniqueId("az-compat"), readTicket()), ...(evaluations === undefined ? {} : { evaluations }) });
      // evaluate() posts to /evaluation; the same body to /evaluations must answer the same shape.
      const response = await post("/access/v1/evaluations", { ...evaluation(uniqueId("az-compat"), readTicket()), ...(evaluations === undefined ? {} : { evaluations }) });
      expect(response.status).toBe(200);
      const body = await response.json<Record<string, unknown>>();
      expect(Object.keys(body).sort()).toEqual(["context", "decision"]);
      expect(body.decision).toBe(answer.decision);
    }
  });
});

describe("evaluation semantics, proved by their side effects", () => {
  it("execute_all evaluates every item: three debits and four records", async () => {
    const session = uniqueId("az-all");
    const answer = await evaluateAll({ subject: subjectOf(), context: sessionContext(session), evaluations: mixed(), options: { evaluations_semantic: "execute_all" } });
    expect(decisions(answer)).toEqual([true, false, true, true]);
    expect((await usageOf(session)).api_calls).toBe(3);
    expect(new Set(await auditedIds(session, 4))).toEqual(new Set(idsOf(answer)));
  });

  it("deny_on_first_deny stops at the denial: the items after it are never decided, debited or recorded", async () => {
    const session = uniqueId("az-deny-first");
    const answer = await evaluateAll({ subject: subjectOf(), context: sessionContext(session), evaluations: mixed(), options: { evaluations_semantic: "deny_on_first_deny" } });
    expect(decisions(answer)).toEqual([true, false]);
    // Two allowed items came after the denial; had either been decided, the session would have debited it.
    expect((await usageOf(session)).api_calls).toBe(1);
    // A later decision in the same session is recorded after anything the batch could have queued.
    const marker = await evaluate(evaluation(session, toolCall("tickets.read", { id: "marker" })));
    const recorded = await auditedIds(session, 3);
    expect(new Set(recorded)).toEqual(new Set([...idsOf(answer), marker.context?.decision_id]));
  });

  it("deny_on_first_deny also stops at an approval to wait for, and at an item that could not be decided", async () => {
    const pending = uniqueId("az-deny-approval");
    const atApproval = await evaluateAll({ subject: subjectOf(), context: sessionContext(pending), evaluations: [readTicket(), refund(900), readTicket()], options: { evaluations_semantic: "deny_on_first_deny" } });
    expect(decisions(atApproval)).toEqual([true, false]);
    expect(atApproval.evaluations[1].context).toMatchObject({ outcome: "require_approval", approval: { status: "pending" } });
    expect((await usageOf(pending)).api_calls).toBe(1);

    const broken = uniqueId("az-deny-error");
    const atError = await evaluateAll({ subject: subjectOf(), context: sessionContext(broken), evaluations: [readTicket(), { action: { name: "tool_call" } }, readTicket()], options: { evaluations_semantic: "deny_on_first_deny" } });
    expect(decisions(atError)).toEqual([true, false]);
    expect(atError.evaluations[1].context?.error).toMatchObject({ status: 400, code: "invalid_input", path: "resource" });
    expect((await usageOf(broken)).api_calls).toBe(1);
  });

  it("permit_on_first_permit stops at the first permit: what follows is never decided", async () => {
    const session = uniqueId("az-permit-first");
    const answer = await evaluateAll({
      subject: subjectOf(),
      context: sessionContext(session),
      evaluations: [refund(99_999), readTicket(), toolCall("crm.read_customer", { id: "C-1" }), readTicket()],
      options: { evaluations_semantic: "permit_on_first_permit" },
    });
    expect(decisions(answer)).toEqual([false, true]);
    expect((await usageOf(session)).api_calls).toBe(1);
    const marker = await evaluate(evaluation(session, toolCall("tickets.read", { id: "marker" })));
    expect(new Set(await auditedIds(session, 3))).toEqual(new Set([...idsOf(answer), marker.context?.decision_id]));
  });

  it("two identical items are two decisions, each with its own id and its own debit", async () => {
    const session = uniqueId("az-twice");
    const answer = await evaluateAll({ subject: subjectOf(), context: sessionContext(session), evaluations: [readTicket(), readTicket()] });
    expect(decisions(answer)).toEqual([true, true]);
    expect(new Set(idsOf(answer)).size).toBe(2);
    expect((await usageOf(session)).api_calls).toBe(2);
    // Each carries its own receipt, for its own decision id.
    const keys = await receiptKeys();
    for (const item of answer.evaluations) expect((await verifyReceipt(item.context?.receipt, { keys })).jti).toBe(item.context?.decision_id);
  });
});

describe("errors inside a batch", () => {
  it("an item missing a required entity is that item's closed decision; the others are answered in place (§7.2.1)", async () => {
    const session = uniqueId("az-item-error");
    const answer = await evaluateAll({
      subject: subjectOf(),
      action: { name: "tool_call" },
      context: sessionContext(session),
      options: { evaluations_semantic: "execute_all" },
      evaluations: [{ resource: { type: "tool", id: "tickets.read" } }, {}, { resource: { type: "tool" } }, { resource: { type: "tool", id: "tickets.read" }, context: {} }],
    });
    expect(decisions(answer)).toEqual([true, false, false, false]);
    expect(answer.evaluations[1].context).toEqual({ error: { status: 400, code: "invalid_input", path: "resource", message: expect.stringContaining("resource") } });
    expect(answer.evaluations[2].context?.error).toMatchObject({ status: 400, path: "resource.id" });
    expect(answer.evaluations[3].context?.error).toMatchObject({ status: 400, path: "context.session" });
    expect((await usageOf(session)).api_calls).toBe(1);
  });

  it("an item that, with the request's defaults, is larger than one decision may be is refused on its own", async () => {
    const session = uniqueId("az-item-size");
    const big = { blob: "x".repeat(30 * 1024) };
    const answer = await evaluateAll({
      subject: subjectOf(),
      context: { ...sessionContext(session), note: big.blob, more: big.blob, extra: big.blob },
      evaluations: [{ ...readTicket(), context: sessionContext(session) }, readTicket()],
    });
    expect(decisions(answer)).toEqual([true, false]);
    expect(answer.evaluations[1].context?.error).toMatchObject({ status: 413, code: "payload_too_large" });
  });
});

describe("a retried batch", () => {
  it("with the same Idempotency-Key replays what was committed and decides only what was not", async () => {
    const session = uniqueId("az-batch-retry");
    const key = `batch-${session}`;
    const request = (semantic: string, evaluations = [readTicket(), refund(99_999), toolCall("tickets.read", { id: "T-3" })]) => ({
      subject: subjectOf(),
      context: sessionContext(session),
      evaluations,
      options: { evaluations_semantic: semantic },
    });
    const first = await evaluateAll(request("deny_on_first_deny"), { "idempotency-key": key });
    expect(decisions(first)).toEqual([true, false]);
    expect((await usageOf(session)).api_calls).toBe(1);

    // The answer was lost; the enforcement point sends the batch again: the same answer, nothing committed twice.
    const again = await evaluateAll(request("deny_on_first_deny"), { "idempotency-key": key });
    expect(decisions(again)).toEqual([true, false]);
    expect(again.evaluations.map((e) => e.context?.replay_of)).toEqual(idsOf(first));
    expect((await usageOf(session)).api_calls).toBe(1);

    // Asked to run them all, only the item never decided is decided now.
    const all = await evaluateAll(request("execute_all"), { "idempotency-key": key });
    expect(decisions(all)).toEqual([true, false, true]);
    expect(all.evaluations.map((e) => e.context?.replay_of)).toEqual([...idsOf(first), undefined]);
    expect((await usageOf(session)).api_calls).toBe(2);

    // An item changed under the same key is that item's conflict; the others still replay.
    const changed = await evaluateAll(request("execute_all", [toolCall("tickets.read", { id: "T-other" }), refund(99_999), toolCall("tickets.read", { id: "T-3" })]), { "idempotency-key": key });
    expect(decisions(changed)).toEqual([false, false, true]);
    expect(changed.evaluations[0].context?.error).toMatchObject({ status: 409, code: "idempotency_conflict" });
    expect(changed.evaluations[2].context?.replay_of).toBe(all.evaluations[2].context?.decision_id);
    expect((await usageOf(session)).api_calls).toBe(2);
  });

  it("a batch's keys are its own: the same Idempotency-Key on a single evaluation is another decision", async () => {
    const session = uniqueId("az-key-spaces");
    const key = `shared-${session}`;
    await evaluateAll({ subject: subjectOf(), context: sessionContext(session), evaluations: [readTicket()] }, { "idempotency-key": key });
    const single = await evaluate(evaluation(session, readTicket()), { "idempotency-key": key });
    expect(single.context?.replay_of).toBeUndefined();
    expect((await usageOf(session)).api_calls).toBe(2);
  });

  it("no Idempotency-Key a caller may send is a batch item's: the key an item is stored under, sent with a single evaluation, is refused or replays nothing", async () => {
    const session = uniqueId("az-derived-key");
    const key = `derived-${session}`;
    const first = await evaluateAll({ subject: subjectOf(), context: sessionContext(session), evaluations: [readTicket()] }, { "idempotency-key": key });
    // Were item keys spellable (visible ASCII alone), a caller could name item 0 of that batch and have its decision replayed.
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    for (const spelled of [`authzen-batch:${digest}:0`, `authzen batch ${digest} 0`]) {
      const single = await post("/access/v1/evaluation", evaluation(session, readTicket()), { "idempotency-key": spelled });
      if (single.status === 200) expect((await single.json<{ context?: { replay_of?: string } }>()).context?.replay_of, spelled).toBeUndefined();
      else expect(single.status, spelled).toBe(400);
    }
    expect(first.evaluations[0].decision).toBe(true);
  });
});

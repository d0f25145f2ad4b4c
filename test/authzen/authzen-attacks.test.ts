/**
 * What a caller who wants more than its credential gives would try against
 * the AuthZEN endpoints, each shown refused with a clear 4xx and no trace
 * in anyone's session: no credential or a forged one, another tenant's
 * credential, a subject naming another agent (alone or hidden in one item
 * of a batch), a user as the subject, claims wider than the credential,
 * malformed and deeply nested bodies, oversized batches; and a session
 * object that cannot answer, which makes the answer stricter, never looser.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sessionObject } from "../../src/session/objects";
import type { SessionDO as DrillSessionDO } from "../worker/test-entry";
import { agentKey, type AgentSpec } from "../identity/credentials";
import { uniqueId } from "../session/helpers";
import { FINANCE, auditedIds, evaluate, evaluateAll, evaluation, post, readTicket, refund, subjectOf, usageOf } from "./authzen-client";

const MALLORY: AgentSpec = { tenant: "mallory-co", agent: "mallory", role: "finance" };
const ENDPOINTS = ["/access/v1/evaluation", "/access/v1/evaluations"];
const as = (key: string) => ({ authorization: `Bearer ${key}` });

async function refusal(response: Response): Promise<{ status: number; code: string | null; message: string }> {
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return { status: response.status, code: response.headers.get("x-tollgate-error"), message: await response.text() };
}

describe("who may ask", () => {
  it("no credential is 401 with a challenge (§11.3), a forged or unknown one 401, on both endpoints", async () => {
    const body = evaluation(uniqueId("az-nocred"), readTicket());
    const key = await agentKey(FINANCE);
    const forged = `${key.slice(0, key.lastIndexOf("_") + 1)}${"A".repeat(43)}`;
    for (const path of ENDPOINTS) {
      const none = await post(path, body, { authorization: "" });
      expect(await refusal(none)).toMatchObject({ status: 401, code: "unauthenticated" });
      expect(none.headers.get("www-authenticate")).toBe('Bearer realm="tollgate"');
      for (const bad of [forged, "tgk_acme_nope", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."]) {
        const refused = await post(path, body, as(bad));
        expect((await refusal(refused)).status, bad.slice(0, 30)).toBe(401);
        expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
      }
    }
  });

  it("another tenant's credential cannot ask for this tenant's agent, nor name this tenant", async () => {
    const victimSession = uniqueId("az-victim");
    const mallory = await agentKey(MALLORY);
    const asVictim = await post("/access/v1/evaluation", evaluation(victimSession, readTicket()), as(mallory));
    expect(await refusal(asVictim)).toMatchObject({ status: 403, code: "identity_mismatch" });
    const namingTenant = await post("/access/v1/evaluation", evaluation(victimSession, { ...readTicket(), subject: { type: "agent", id: "mallory", properties: { tenant: "acme" } } }), as(mallory));
    expect(await refusal(namingTenant)).toMatchObject({ status: 403, code: "identity_mismatch" });
    const inBatch = await post("/access/v1/evaluations", { subject: subjectOf(), context: { session: { id: victimSession } }, evaluations: [readTicket()] }, as(mallory));
    expect((await refusal(inBatch)).status).toBe(403);
    expect((await usageOf(victimSession)).api_calls).toBe(0);
  });

  it("a subject naming another agent is refused, as /v1/decide refuses it; the credential's own session is untouched", async () => {
    const session = uniqueId("az-other-agent");
    const other = await post("/access/v1/evaluation", evaluation(session, { ...readTicket(), subject: { type: "agent", id: "agent-7" } }));
    const refused = await refusal(other);
    expect(refused).toMatchObject({ status: 403, code: "identity_mismatch" });
    expect(refused.message).toContain("agent-7");
    const user = await post("/access/v1/evaluation", evaluation(session, { ...readTicket(), subject: { type: "user", id: "alice@example.com" } }));
    expect(await refusal(user)).toMatchObject({ status: 403, code: "identity_mismatch" });
    for (const properties of [{ role: "admin" }, { scopes: ["payments:all"] }, { delegation_depth: 2 }]) {
      const claimed = await post("/access/v1/evaluation", evaluation(session, { ...readTicket(), subject: { ...subjectOf(), properties } }));
      expect((await refusal(claimed)).status, JSON.stringify(properties)).toBe(403);
    }
    expect((await usageOf(session)).api_calls).toBe(0);
  });

  it("one item naming another agent refuses the whole batch before any item is decided", async () => {
    const session = uniqueId("az-hidden-item");
    const response = await post("/access/v1/evaluations", {
      subject: subjectOf(),
      context: { session: { id: session } },
      evaluations: [readTicket(), readTicket(), { ...readTicket(), subject: { type: "agent", id: "agent-7" } }, readTicket()],
    });
    expect(await refusal(response)).toMatchObject({ status: 403, code: "identity_mismatch" });
    expect((await usageOf(session)).api_calls).toBe(0);
    // Nothing reached the log either: the next decision of the session is its first record.
    const marker = await evaluate(evaluation(session, readTicket()));
    expect(await auditedIds(session, 1)).toEqual([marker.context?.decision_id]);
  });

  it("an item naming another agent refuses the batch even when it is also malformed or too large to decide", async () => {
    const session = uniqueId("az-hidden-bad-item");
    const other = { type: "agent", id: "agent-7" };
    const hidden = [
      { ...readTicket(), subject: other, action: { name: 5 } },
      { ...readTicket(), subject: other, resource: undefined },
      { ...readTicket(), subject: { ...other, properties: { tenant: "acme" } }, action: { name: "tool_call", properties: { args: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`pad${i}`, "x".repeat(4_000)])) } } },
      { ...readTicket(), subject: { type: "agent", id: FINANCE.agent, properties: { role: "admin" } }, action: { name: 5 } },
      { ...readTicket(), subject: { ...other, properties: { scopes: 5 } } },
      { ...readTicket(), subject: { type: "agent", id: FINANCE.agent, properties: { tenant: "mallory-co", scopes: 5 } } },
    ];
    for (const item of hidden) {
      const response = await post("/access/v1/evaluations", { subject: subjectOf(), context: { session: { id: session } }, evaluations: [readTicket(), item] });
      expect(await refusal(response), JSON.stringify(item).slice(0, 80)).toMatchObject({ status: 403, code: "identity_mismatch" });
    }
    expect((await usageOf(session)).api_calls).toBe(0);
    // A subject too malformed to name anyone stays that item's own error; the rest of the batch is decided.
    const malformed = await evaluateAll({ subject: subjectOf(), context: { session: { id: session } }, evaluations: [readTicket(), { ...readTicket(), subject: { type: "agent", id: 7 } }] });
    expect(malformed.evaluations.map((e) => e.decision)).toEqual([true, false]);
    expect(malformed.evaluations[1].context?.error).toMatchObject({ status: 400 });
  });
});

describe("bodies an attacker would send", () => {
  const valid = () => evaluation(uniqueId("az-malformed"), readTicket());

  it("is 400 for every malformed request the certification scenario lists (C.2.4), on both endpoints", async () => {
    const { subject, action, resource, context } = valid() as Record<string, any>;
    const cases: Array<[string, BodyInit, string?]> = [
      ["missing subject", JSON.stringify({ action, resource, context })],
      ["missing action", JSON.stringify({ subject, resource, context })],
      ["missing resource", JSON.stringify({ subject, action, context })],
      ["subject without type", JSON.stringify({ subject: { id: subject.id }, action, resource, context })],
      ["subject without id", JSON.stringify({ subject: { type: "agent" }, action, resource, context })],
      ["action without name", JSON.stringify({ subject, action: {}, resource, context })],
      ["resource without type", JSON.stringify({ subject, action, resource: { id: "tickets.read" }, context })],
      ["resource without id", JSON.stringify({ subject, action, resource: { type: "tool" }, context })],
      ["subject a string", JSON.stringify({ subject: "az-finance", action, resource, context })],
      ["action.name a number", JSON.stringify({ subject, action: { name: 123 }, resource, context })],
      ["properties an array", JSON.stringify({ subject, action: { name: "tool_call", properties: [1] }, resource, context })],
      ["no session in the context", JSON.stringify({ subject, action, resource })],
      ["args not an object", JSON.stringify({ subject, action: { name: "tool_call", properties: { args: "rm -rf" } }, resource, context })],
      ["malformed JSON", "{not json"],
      ["empty body", ""],
      ["an array", "[]"],
      ["not JSON at all", JSON.stringify({ subject, action, resource, context }), "text/plain"],
    ];
    for (const path of ENDPOINTS) {
      for (const [name, body, type] of cases) {
        const response = await post(path, body, type ? { "content-type": type } : {});
        expect(response.status, `${path}: ${name}`).toBe(400);
        expect((await response.text()).length, name).toBeGreaterThan(0);
      }
    }
    const missingSession = await post("/access/v1/evaluation", { subject, action, resource });
    expect(await missingSession.text()).toContain("context.session");
    const badArgs = await post("/access/v1/evaluation", { subject, action: { name: "tool_call", properties: { args: "rm -rf" } }, resource, context });
    expect(await badArgs.text()).toMatch(/^action\.properties\.args: /);
    // Every field at fault is named where the enforcement point put it, not where the decision input has it.
    const named: Array<[Record<string, unknown>, RegExp]> = [
      [{ action: { name: "spawn_agent" }, resource: { type: "agent", id: "child-1" } }, /^resource\.properties\.role: /],
      [{ action: { name: "plan" }, resource: { type: "plan", id: "p-1" } }, /^resource\.properties\.steps: /],
      [{ action: { name: "tool_call", properties: { estimate: { tokens: -1 } } }, resource }, /^action\.properties\.estimate\.tokens: /],
      [{ action, resource, context: { session: { id: "" } } }, /^context\.session\.id: /],
      [{ action, resource, context: { ...context, risk_tier: "extreme" } }, /^context\.risk_tier: /],
      [{ action, resource, context: { ...context, approval_id: "apr_nope" } }, /^context\.approval_id: /],
      [{ action, resource, subject: { ...subject, properties: { scopes: "all" } } }, /^subject\.properties\.scopes: /],
    ];
    for (const [parts, message] of named) {
      const response = await post("/access/v1/evaluation", { subject, context, ...parts });
      expect(response.status, String(message)).toBe(400);
      expect(await response.text()).toMatch(message);
    }
  });

  it("a body nested 4,200 levels deep is 400, not a 500, alone or in a batch", async () => {
    const deep = JSON.parse(`${"[".repeat(4200)}${"]".repeat(4200)}`);
    const single = await post("/access/v1/evaluation", evaluation(uniqueId("az-deep"), { action: { name: "tool_call", properties: { args: { x: deep } } }, resource: { type: "tool", id: "tickets.read" } }));
    expect(await refusal(single)).toMatchObject({ status: 400, code: "invalid_input" });
    const batch = await post("/access/v1/evaluations", { subject: subjectOf(), context: { session: { id: "deep" }, deep }, evaluations: [readTicket()] });
    expect(await refusal(batch)).toMatchObject({ status: 400, code: "invalid_input" });
    const nestedKeys = `{"subject":${"{\"a\":".repeat(5000)}1${"}".repeat(5000)}}`;
    expect((await post("/access/v1/evaluations", nestedKeys)).status).toBe(400);
  });

  it("refuses an oversized batch: more than 32 evaluations is 400, a body over 256 KiB is 413", async () => {
    const session = uniqueId("az-oversized");
    const tooMany = await post("/access/v1/evaluations", { subject: subjectOf(), context: { session: { id: session } }, evaluations: Array.from({ length: 33 }, readTicket) });
    const refused = await refusal(tooMany);
    expect(refused).toMatchObject({ status: 400, code: "invalid_input" });
    expect(refused.message).toContain("evaluations");
    const thirtyTwo = await evaluateAll({ subject: subjectOf(), context: { session: { id: session } }, evaluations: Array.from({ length: 32 }, readTicket) });
    expect(thirtyTwo.evaluations).toHaveLength(32);
    const filler = "x".repeat(30 * 1024);
    const huge = { subject: subjectOf(), context: { session: { id: session } }, evaluations: Array.from({ length: 9 }, () => ({ ...readTicket(), context: { session: { id: session }, filler } })) };
    expect(await refusal(await post("/access/v1/evaluations", huge))).toMatchObject({ status: 413, code: "payload_too_large" });
    const single = evaluation(session, { action: { name: "tool_call", properties: { args: { a: filler, b: filler, c: filler } } }, resource: { type: "tool", id: "tickets.read" } });
    expect(await refusal(await post("/access/v1/evaluation", single))).toMatchObject({ status: 413, code: "payload_too_large" });
    expect((await usageOf(session)).api_calls).toBe(32);
  });

  it("refuses options and evaluations of the wrong shape", async () => {
    const base = { subject: subjectOf(), context: { session: { id: uniqueId("az-options-bad") } } };
    for (const body of [
      { ...base, evaluations: [readTicket()], options: { evaluations_semantic: "first_wins" } },
      { ...base, evaluations: [readTicket()], options: "execute_all" },
      { ...base, evaluations: { 0: readTicket() } },
      { ...base, evaluations: ["tickets.read"] },
      { ...base, subject: "az-finance", evaluations: [readTicket()] },
    ]) {
      const response = await post("/access/v1/evaluations", body);
      expect(response.status, JSON.stringify(body).slice(0, 120)).toBe(400);
    }
  });
});

describe("a failing session object", () => {
  /** The session's object as the tests' Worker has it, with its drill hook (test/worker/test-entry.ts). */
  const stubFor = (session: string) => sessionObject(env, FINANCE.tenant!, FINANCE.agent!, session) as unknown as DurableObjectStub<DrillSessionDO>;

  it("makes a high-risk evaluation false (its tier fails closed) and leaves a low-risk one allowed and flagged", async () => {
    const session = uniqueId("az-overloaded");
    await stubFor(session).injectFault({ kind: "overloaded", remaining: 2 });
    const answer = await evaluateAll({ subject: subjectOf(), context: { session: { id: session } }, evaluations: [refund(100), readTicket()] });
    expect(answer.evaluations[0]).toMatchObject({ decision: false, context: { outcome: "deny", fail_mode_applied: "closed" } });
    expect(answer.evaluations[0].context?.reasons.map((r: { rule: string }) => r.rule)).toContain("session_state_unavailable");
    expect(answer.evaluations[1]).toMatchObject({ decision: true, context: { fail_mode_applied: "open" } });
    // The same refund once the object answers again is allowed: the failure tightened, it decided nothing for good.
    expect((await evaluate(evaluation(session, refund(100)))).decision).toBe(true);
  });
});

/**
 * The decision log with a real Queue, Durable Objects and R2: a record for
 * every decision under a burst, nothing lost or duplicated when the consumer
 * fails mid-batch, arguments only as the policy allows, a synchronous record
 * for critical decisions, and tenant-scoped queries.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { AuditRecord } from "../../src/audit/record";
import { chainFor } from "../../src/audit/writer";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, decide, uniqueId } from "../session/helpers";

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readInput(tenant: string, session: string, tier = "medium") {
  return { risk_tier: tier, tenant, agent: { id: "agent-1", role: "support" }, session: { id: session }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } };
}

function recordFor(tenant: string, i: number): AuditRecord {
  return {
    kind: "decision", decision_id: `${tenant}-d-${i}`, time: new Date().toISOString(), location: "test", region: "global", tenant,
    agent: "agent-1", session: "s-1", action_type: "tool_call", tool: "tickets.read", decision: "allow", rules: [], obligations: [],
    layers: [], mode: "enforce", fail_mode_applied: false, stale: false, eval_us: 0,
  };
}

describe("the decision log", () => {
  it("has a record for every decision of a 1,000-decision burst", async () => {
    const tenant = uniqueId("burst").toLowerCase().replace(/[^a-z0-9-]/g, "-");
    const ids = new Set<string>();
    for (let wave = 0; wave < 10; wave++) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => decide(readInput(tenant, `s-${wave}-${i}`))));
      for (const answer of answers) ids.add(answer.decision_id);
    }
    expect(ids.size).toBe(1000);
    const stats = await until(() => chainFor(env, tenant).stats(), (s) => s.entries >= 1000);
    expect(stats.entries).toBe(1000);
    const records = (await chainFor(env, tenant).query({ limit: 5000 })) as Array<{ decision_id: string; seq: number }>;
    expect(new Set(records.map((r) => r.decision_id))).toEqual(ids);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it("loses nothing and duplicates nothing when the consumer fails mid-batch", async () => {
    const a = uniqueId("shard-a").replace(/[^a-z0-9-]/g, "-");
    const b = uniqueId("shard-b").replace(/[^a-z0-9-]/g, "-");
    const bodies = [...Array.from({ length: 5 }, (_, i) => recordFor(a, i)), ...Array.from({ length: 5 }, (_, i) => recordFor(b, i))];
    const messages = bodies.map((body, i) => ({ id: `m-${i}`, timestamp: new Date(), attempts: 1, body }));
    await chainFor(env, b).failNext(1);

    const first = createMessageBatch<AuditRecord>("tollgate-audit", messages);
    const ctx = createExecutionContext();
    await worker.queue(first, env);
    const result = await getQueueResult(first, ctx);
    expect(result.explicitAcks.sort()).toEqual(messages.slice(0, 5).map((m) => m.id).sort());
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(messages.slice(5).map((m) => m.id).sort());
    expect((await chainFor(env, a).stats()).entries).toBe(5);
    expect((await chainFor(env, b).stats()).entries).toBe(0);

    // The Queue redelivers; here the whole batch comes again, as an at-least-once queue may do.
    const redelivered = createMessageBatch<AuditRecord>("tollgate-audit", messages.map((m) => ({ ...m, attempts: 2 })));
    await worker.queue(redelivered, env);
    for (const shard of [a, b]) {
      const records = (await chainFor(env, shard).query({})) as Array<{ decision_id: string; seq: number }>;
      expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(records.map((r) => r.decision_id).sort()).toEqual(Array.from({ length: 5 }, (_, i) => `${shard}-d-${i}`).sort());
    }
    const status = await (await admin("/audit/status", TEST_TOKENS.operator)).json<{ counters: Record<string, number> }>();
    expect(status.counters.append_retries).toBeGreaterThanOrEqual(5);
  });

  it("records arguments only as the policy allows: named fields for a refund, none when PII is involved", async () => {
    const tenant = uniqueId("args").replace(/[^a-z0-9-]/g, "-");
    const refund = await decide({ risk_tier: "high", tenant, agent: { id: "agent-7", role: "finance" }, session: { id: "s-1" }, action: { type: "tool_call", tool: "payments.refund", args: { amount: 120, currency: "EUR", card: "4111111111111111" } } });
    const pii = await decide({ risk_tier: "medium", tenant, agent: { id: "agent-8", role: "support" }, session: { id: "s-2" }, action: { type: "tool_call", tool: "crm.read_customer", args: { email: "jane@example.com" }, data_classes: ["pii"] } });
    const records = (await until(() => chainFor(env, tenant).query({}), (r) => r.length >= 2)) as Array<Record<string, any>>;
    const byId = new Map(records.map((r) => [r.decision_id, r]));
    expect(byId.get(refund.decision_id)!.args).toEqual({ amount: 120, currency: "EUR" });
    expect(byId.get(pii.decision_id)!.args).toBeUndefined();
    expect(byId.get(pii.decision_id)!.args_redacted).toBe(true);
    expect(JSON.stringify(records)).not.toContain("jane@example.com");
    expect(JSON.stringify(records)).not.toContain("4111111111111111");
  });

  it("writes a critical decision's record before answering", async () => {
    const tenant = uniqueId("critical").replace(/[^a-z0-9-]/g, "-");
    const answer = await decide(readInput(tenant, "s-1", "critical"));
    expect(answer.audit).toBe("acknowledged");
    const [record] = (await chainFor(env, tenant).query({ decision_id: answer.decision_id })) as Array<Record<string, unknown>>;
    expect(record).toMatchObject({ decision_id: answer.decision_id, tenant, decision: "allow", mode: "enforce", tool: "tickets.read" });
    expect(record.layers).toEqual([{ scope: "global", digest: expect.stringMatching(/^sha256:/), version: 0 }]);
  });

  it("answers queries by decision, session, rule and time, for the tenant's auditors only", async () => {
    const tenant = "acme";
    const session = uniqueId("q");
    const denied = await decide({ ...readInput(tenant, session, "critical"), action: { type: "tool_call", tool: "teleport.now" } });
    const byDecision = await admin(`/audit/records?tenant=acme&decision_id=${denied.decision_id}`, TEST_TOKENS.acmeAuditor);
    expect((await byDecision.json<{ records: unknown[] }>()).records).toEqual([expect.objectContaining({ decision_id: denied.decision_id, rules: ["unknown_tool"] })]);
    const byRule = await (await admin(`/audit/records?tenant=acme&rule=unknown_tool&session=${session}`, TEST_TOKENS.acmeAuditor)).json<{ records: unknown[] }>();
    expect(byRule.records).toHaveLength(1);
    const future = await (await admin(`/audit/records?tenant=acme&session=${session}&from=2099-01-01T00:00:00Z`, TEST_TOKENS.acmeAuditor)).json<{ records: unknown[] }>();
    expect(future.records).toHaveLength(0);
    expect((await admin("/audit/records?tenant=initech", TEST_TOKENS.acmeAuditor)).status).toBe(403);
    expect((await admin("/audit/records?tenant=acme&from=yesterday", TEST_TOKENS.acmeAuditor)).status).toBe(400);
  });
});

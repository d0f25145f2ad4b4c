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
import { chainFor, enqueueAudit, intoMessages, type AuditMessage } from "../../src/audit/writer";
import { TEST_TOKENS } from "../fixtures/test-config";
import type { AuditChainDO as DrillChainDO } from "../worker/test-entry";

/** A chain object as the tests' Worker has it, with its drill hook (test/worker/test-entry.ts). */
const drill = (stub: unknown) => stub as DurableObjectStub<DrillChainDO>;
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
    kind: "decision", decision_id: `${tenant}-d-${i}`, time: new Date().toISOString(), location: "test", region: "global", region_source: "local_default", tenant,
    agent: "agent-1", credential: { kind: "agent_key", id: "k0000000000000000" }, session: "s-1", risk_tier: "medium", action_type: "tool_call", tool: "tickets.read", decision: "allow", rules: [], obligations: [],
    layers: [], mode: "enforce", fail_mode_applied: false, stale: false, eval_us: 0,
  };
}

/** A message as an edge sends it: the batch's records as JSON lines. */
const asMessage = (records: object[]): AuditMessage => records.map((record) => JSON.stringify(record)).join("\n");

async function counters(): Promise<Record<string, number>> {
  return (await (await admin("/audit/status", TEST_TOKENS.operator)).json<{ counters: Record<string, number> }>()).counters;
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
    const records = (await chainFor(env, tenant).query({ limit: 5000 })).records as Array<{ decision_id: string; seq: number }>;
    expect(new Set(records.map((r) => r.decision_id))).toEqual(ids);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it("loses nothing and duplicates nothing when the consumer fails mid-batch", async () => {
    const a = uniqueId("shard-a").replace(/[^a-z0-9-]/g, "-");
    const b = uniqueId("shard-b").replace(/[^a-z0-9-]/g, "-");
    const ra = Array.from({ length: 5 }, (_, i) => recordFor(a, i));
    const rb = Array.from({ length: 5 }, (_, i) => recordFor(b, i));
    // Each message is one edge's batch; the middle one carries records of both shards.
    const bodies = [asMessage(ra.slice(0, 3)), asMessage([...ra.slice(3), rb[0]]), asMessage(rb.slice(1))];
    const messages = bodies.map((body, i) => ({ id: `m-${i}`, timestamp: new Date(), attempts: 1, body }));
    await drill(chainFor(env, b)).failNext(1);
    const before = await counters();

    const first = createMessageBatch<AuditMessage>("tollgate-audit", messages);
    const ctx = createExecutionContext();
    await worker.queue(first, env);
    const result = await getQueueResult(first, ctx);
    // Shard b failed: every message with a record of b is retried, the rest acknowledged.
    expect(result.explicitAcks).toEqual(["m-0"]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["m-1", "m-2"]);
    expect((await chainFor(env, a).stats()).entries).toBe(5);
    expect((await chainFor(env, b).stats()).entries).toBe(0);

    // The Queue redelivers; here the whole batch comes again, as an at-least-once queue may do.
    const redelivered = createMessageBatch<AuditMessage>("tollgate-audit", messages.map((m) => ({ ...m, attempts: 2 })));
    await worker.queue(redelivered, env);
    for (const shard of [a, b]) {
      const records = (await chainFor(env, shard).query({})).records as Array<{ decision_id: string; seq: number }>;
      expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(records.map((r) => r.decision_id).sort()).toEqual(Array.from({ length: 5 }, (_, i) => `${shard}-d-${i}`).sort());
    }
    // The failed append carried shard b's five records: each is counted as a retry, once.
    const after = await counters();
    expect((after.append_retries ?? 0) - (before.append_retries ?? 0)).toBe(5);
    expect(after.records_lost ?? 0).toBe(before.records_lost ?? 0);
  });

  it("records arguments only as the policy allows: named fields for a refund, none when PII is involved", async () => {
    const tenant = uniqueId("args").replace(/[^a-z0-9-]/g, "-");
    const refund = await decide({ risk_tier: "high", tenant, agent: { id: "agent-7", role: "finance" }, session: { id: "s-1" }, action: { type: "tool_call", tool: "payments.refund", args: { amount: 120, currency: "EUR", card: "4111111111111111" } } });
    const pii = await decide({ risk_tier: "medium", tenant, agent: { id: "agent-8", role: "support" }, session: { id: "s-2" }, action: { type: "tool_call", tool: "crm.read_customer", args: { email: "jane@example.com" }, data_classes: ["pii"] } });
    const records = (await until(async () => (await chainFor(env, tenant).query({})).records, (r) => r.length >= 2)) as Array<Record<string, any>>;
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
    const [record] = (await chainFor(env, tenant).query({ decision_id: answer.decision_id })).records as Array<Record<string, unknown>>;
    expect(record).toMatchObject({ decision_id: answer.decision_id, tenant, decision: "allow", mode: "enforce", tool: "tickets.read" });
    expect(record.layers).toEqual([{ scope: "global", digest: expect.stringMatching(/^sha256:/), version: 0 }]);
  });

  it("denies a critical action whose acknowledged record cannot be written, and still logs the denial", async () => {
    const tenant = uniqueId("unacked").replace(/[^a-z0-9-]/g, "-");
    await drill(chainFor(env, tenant)).failNext(1);
    const answer = await decide(readInput(tenant, "s-1", "critical"));
    expect(answer).toMatchObject({ decision: "deny", audit: "unavailable", reasons: [{ rule: "audit_unavailable" }] });
    const records = (await until(async () => (await chainFor(env, tenant).query({ decision_id: answer.decision_id })).records, (r) => r.length > 0)) as Array<Record<string, unknown>>;
    expect(records).toEqual([expect.objectContaining({ decision_id: answer.decision_id, decision: "deny", rules: ["audit_unavailable"] })]);
  });

  it("writes a batch the Queue refuses straight to the chain, and counts it", async () => {
    const tenant = uniqueId("refused").replace(/[^a-z0-9-]/g, "-");
    const before = await counters();
    // Over the Queue's 128 KB message limit: the real Queue refuses it.
    const oversized = { ...recordFor(tenant, 1), args: { note: "x".repeat(150_000) } };
    const flushes: Promise<unknown>[] = [];
    enqueueAudit(env, [oversized], (work) => flushes.push(work));
    expect(flushes).toHaveLength(1);
    await Promise.all(flushes);
    expect((await chainFor(env, tenant).query({})).records).toEqual([expect.objectContaining({ decision_id: oversized.decision_id })]);
    const after = await counters();
    expect(after.queue_send_failures - before.queue_send_failures).toBe(1);
    expect(after.records_lost).toBe(before.records_lost);
  });

  it("cuts a batch into messages the Queue accepts, by bytes rather than characters, in order", async () => {
    const tenant = uniqueId("big-batch").replace(/[^a-z0-9-]/g, "-");
    const before = await counters();
    // Three 45 KB records: together over the 128 KB message limit (sent whole, the Queue would refuse them).
    const ascii = Array.from({ length: 3 }, (_, i) => ({ ...recordFor(tenant, i), args: { note: "x".repeat(45_000) } }));
    // Two records of 30,000 characters but 60 KB of UTF-8 each: counted by characters they would share a message.
    const accented = Array.from({ length: 2 }, (_, i) => ({ ...recordFor(tenant, 3 + i), args: { note: "é".repeat(30_000) } }));
    const records = [...ascii, ...accented];
    const messages = intoMessages(records.map((record) => JSON.stringify(record)));
    expect(messages.map((message) => message.split("\n").map((line) => JSON.parse(line).decision_id))).toEqual([
      [records[0].decision_id, records[1].decision_id],
      [records[2].decision_id],
      [records[3].decision_id],
      [records[4].decision_id],
    ]);
    const flushes: Promise<unknown>[] = [];
    enqueueAudit(env, records, (work) => flushes.push(work));
    await Promise.all(flushes);
    const chained = (await until(async () => (await chainFor(env, tenant).query({})).records, (r) => r.length >= 5)) as Array<{ decision_id: string }>;
    expect(chained.map((r) => r.decision_id)).toEqual(records.map((r) => r.decision_id));
    const after = await counters();
    expect(after.queue_send_failures ?? 0).toBe(before.queue_send_failures ?? 0);
  });

  it("chains the readable records of a message with a corrupt line, and counts the line as lost", async () => {
    const tenant = uniqueId("corrupt").replace(/[^a-z0-9-]/g, "-");
    const before = await counters();
    const [first, second] = [recordFor(tenant, 0), recordFor(tenant, 1)];
    const body: AuditMessage = [JSON.stringify(first), "{not json", JSON.stringify({ note: "no tenant" }), JSON.stringify(second)].join("\n");
    const batch = createMessageBatch<AuditMessage>("tollgate-audit", [{ id: "m-corrupt", timestamp: new Date(), attempts: 1, body }]);
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual(["m-corrupt"]);
    const chained = (await chainFor(env, tenant).query({})).records as Array<{ decision_id: string }>;
    expect(chained.map((r) => r.decision_id)).toEqual([first.decision_id, second.decision_id]);
    expect((await counters()).records_lost - (before.records_lost ?? 0)).toBe(2);
  });

  it("counts a record that names a decision id already chained with other content; a plain redelivery is not counted", async () => {
    const tenant = uniqueId("conflict").replace(/[^a-z0-9-]/g, "-");
    const before = await counters();
    const first = recordFor(tenant, 0);
    const chain = chainFor(env, tenant);
    expect(await chain.append([first])).toMatchObject({ appended: 1 });
    expect(await chain.append([first])).toMatchObject({ appended: 0, duplicates: 1 });
    expect((await counters()).records_conflicting ?? 0).toBe(before.records_conflicting ?? 0);
    const other = { ...first, decision: first.decision === "allow" ? "deny" : "allow" } as AuditRecord;
    expect(await chain.append([other, recordFor(tenant, 1)])).toMatchObject({ appended: 1, duplicates: 1 });
    expect((await counters()).records_conflicting - (before.records_conflicting ?? 0)).toBe(1);
    const chained = (await chain.query({})).records as unknown as Array<{ decision_id: string; decision: string }>;
    expect(chained.find((r) => r.decision_id === first.decision_id)?.decision).toBe(first.decision);
  });

  it("chains the records of messages in an earlier version's shape, and counts a message with none as lost", async () => {
    const tenant = uniqueId("legacy").replace(/[^a-z0-9-]/g, "-");
    const before = await counters();
    const [a, b, c] = [recordFor(tenant, 0), recordFor(tenant, 1), recordFor(tenant, 2)];
    const messages = [
      { id: "m-batched", timestamp: new Date(), attempts: 1, body: { records: [a, b] } },
      { id: "m-single", timestamp: new Date(), attempts: 1, body: c },
      { id: "m-empty", timestamp: new Date(), attempts: 1, body: { note: "no records" } },
    ];
    const batch = createMessageBatch("tollgate-audit", messages as never);
    await worker.queue(batch as MessageBatch<AuditMessage>, env);
    expect((await getQueueResult(batch, createExecutionContext())).explicitAcks.sort()).toEqual(["m-batched", "m-empty", "m-single"]);
    const chained = (await chainFor(env, tenant).query({})).records as Array<{ decision_id: string }>;
    expect(chained.map((r) => r.decision_id)).toEqual([a.decision_id, b.decision_id, c.decision_id]);
    expect((await counters()).records_lost - (before.records_lost ?? 0)).toBe(1);
  });

  it("answers queries by decision, session, rule and time, for the tenant's auditors only", async () => {
    const tenant = "acme";
    const session = uniqueId("q");
    const denied = await decide({ ...readInput(tenant, session, "critical"), action: { type: "tool_call", tool: "teleport.now" } });
    const byDecision = await admin(`/audit/records?tenant=acme&decision_id=${denied.decision_id}`, TEST_TOKENS.acmeAuditor);
    expect((await byDecision.json<{ records: unknown[] }>()).records).toEqual([expect.objectContaining({ decision_id: denied.decision_id, rules: ["unknown_tool"] })]);
    const byRule = await (await admin(`/audit/records?tenant=acme&rule=unknown_tool&session=${session}`, TEST_TOKENS.acmeAuditor)).json<{ records: unknown[] }>();
    expect(byRule.records).toHaveLength(1);
    const denials = await (await admin(`/audit/records?tenant=acme&session=${session}&decision=deny`, TEST_TOKENS.acmeAuditor)).json<{ records: unknown[] }>();
    expect(denials.records).toEqual([expect.objectContaining({ decision_id: denied.decision_id })]);
    const allowed = await (await admin(`/audit/records?tenant=acme&session=${session}&decision=allow`, TEST_TOKENS.acmeAuditor)).json<{ records: unknown[] }>();
    expect(allowed.records).toHaveLength(0);
    expect((await admin("/audit/records?tenant=acme&decision=maybe", TEST_TOKENS.acmeAuditor)).status).toBe(400);
    const future = await (await admin(`/audit/records?tenant=acme&session=${session}&from=2099-01-01T00:00:00Z`, TEST_TOKENS.acmeAuditor)).json<{ records: unknown[] }>();
    expect(future.records).toHaveLength(0);
    expect((await admin("/audit/records?tenant=initech", TEST_TOKENS.acmeAuditor)).status).toBe(403);
    expect((await admin("/audit/records?tenant=acme&from=yesterday", TEST_TOKENS.acmeAuditor)).status).toBe(400);
  });

  it("pages through a query in sequence order, so an export is never cut short", async () => {
    const tenant = uniqueId("paged").replace(/[^a-z0-9-]/g, "-");
    await chainFor(env, tenant).append(Array.from({ length: 25 }, (_, i) => recordFor(tenant, i)));
    const seen: number[] = [];
    let after: number | undefined;
    let pages = 0;
    do {
      const response = await admin(`/audit/records?tenant=${tenant}&limit=10${after === undefined ? "" : `&after_seq=${after}`}`, TEST_TOKENS.operator);
      const page = await response.json<{ records: Array<{ seq: number }>; next_after_seq?: number }>();
      seen.push(...page.records.map((r) => r.seq));
      after = page.next_after_seq;
      pages++;
    } while (after !== undefined);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(pages).toBe(3);
    expect((await admin(`/audit/records?tenant=${tenant}&after_seq=-1`, TEST_TOKENS.operator)).status).toBe(400);
  });
});

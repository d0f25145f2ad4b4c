/**
 * Findings of the audit log's review, each a way a decision could leave no
 * trace, or a trace that says something else.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { TEST_TOKENS } from "../fixtures/test-config";
import type { SpoolEntry } from "../../packages/agent/src/spool";
import { OFFLINE_AGENT as AGENT, offlineRecord as offline, spooled as spool } from "./offline-spool";
import { appendAcknowledged, chainFor } from "../../src/audit/writer";
import { buildAuditRecord, type AnsweredDecision } from "../../src/audit/from-decision";
import type { AuditRecord } from "../../src/audit/record";
import { verifyAuditLog } from "../../src/audit/verify";
import { digestKey, headKey, segmentKey } from "../../src/audit/chain";
import { BASELINE_POLICY } from "../../src/bundles/active-policy";
import { trustStoreFrom } from "../../src/bundles/trust";
import { composeLayers } from "../../src/engine/compose";
import { fallbackParams } from "../../src/engine/fallback-params";
import type { DecisionInput } from "../../src/schema/decision-input";
import type { AuditChainDO as DrillChainDO } from "../worker/test-entry";
import { agentFetch, decide, sessionStub, uniqueId } from "../session/helpers";

/** A chain object as the tests' Worker has it, with its drill hooks (test/worker/test-entry.ts). */
const drill = (stub: unknown) => stub as DurableObjectStub<DrillChainDO>;

const upload = (entries: SpoolEntry[]) =>
  agentFetch("/v1/offline/decisions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ entries }) }, AGENT);

type UploadAnswer = { accepted: string[]; rejected: Array<{ seq: number; decision_id?: string; code: string }> };

describe("an offline decision that reuses a decision id", () => {
  it("is refused, not taken as a copy of the one already logged: no decision is answered accepted and left out of the log", async () => {
    const session = uniqueId("reused-id");
    const first = offline(session);
    // The next decision in the agent's spool, a different action, under the first one's id.
    const second = offline(session, { decision_id: first.decision_id, tool: "payments.refund", action_hash: `sha256:${"c".repeat(64)}`, cost: { tokens: 0, api_calls: 5, cost_usd: 0 } });
    const [one, two] = await spool([first, second]);
    expect((await upload([one])).status).toBe(200);
    const answer = await (await upload([two])).json<UploadAnswer>();
    const logged = (await chainFor(env, "acme").query({ session, limit: 100 })).records as Array<Record<string, any>>;
    // Either the second decision is in the log, or the agent is told it was not taken.
    const inLog = logged.some((r) => r.offline?.spool?.hash === two.hash);
    expect(inLog || answer.rejected.some((r) => r.seq === two.seq)).toBe(true);
    expect(answer.accepted.includes(second.decision_id) && !inLog).toBe(false);
    expect(answer.rejected).toEqual([expect.objectContaining({ seq: 2, code: "decision_id_taken" })]);
    // Its spend is not silently waived either: only what was taken is debited.
    expect((await sessionStub(session, "offline-agent").view()).usage.api_calls).toBe(1);
  });

  it("within one upload: the second entry under the same id is refused, the first taken", async () => {
    const session = uniqueId("reused-id-once");
    const first = offline(session);
    const second = offline(session, { decision_id: first.decision_id, decision: "deny", rules: ["tool_not_allowed_for_role"], cost: undefined });
    const entries = await spool([first, second]);
    const answer = await (await upload(entries)).json<UploadAnswer>();
    expect(answer.accepted).toEqual([first.decision_id]);
    expect(answer.rejected).toEqual([expect.objectContaining({ seq: 2, code: "decision_id_taken" })]);
    const logged = (await chainFor(env, "acme").query({ session, limit: 100 })).records as Array<Record<string, any>>;
    expect(logged.map((r) => r.offline.spool.hash)).toEqual([entries[0].hash]);
  });

  it("sent again as it was (an answer that was lost) is still taken once, not refused", async () => {
    const session = uniqueId("resent");
    const entries = await spool([offline(session), offline(session)]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await (await upload(entries)).json<UploadAnswer>();
      expect(answer).toMatchObject({ accepted: entries.map((e) => e.record.decision_id), rejected: [] });
    }
    expect((await chainFor(env, "acme").query({ session, limit: 100 })).records).toHaveLength(2);
  });
});

describe("a critical decision whose acknowledged record landed but whose answer was lost", () => {
  it("is answered as the log records it: the log never says allow for a decision the agent was denied", async () => {
    const tenant = uniqueId("lost-ack").toLowerCase().replace(/[^a-z0-9-]/g, "-");
    await drill(chainFor(env, tenant)).loseNextAnswers(1);
    const answer = await decide({ risk_tier: "critical", tenant, agent: { id: "agent-1", role: "support" }, session: { id: "s-1" }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } });
    // Give a queued record (a denial's, if one was sent) time to reach the chain.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const logged = (await chainFor(env, tenant).query({ decision_id: answer.decision_id })).records as Array<Record<string, unknown>>;
    expect(logged).toHaveLength(1);
    expect(logged[0].decision).toBe(answer.decision);
    expect(answer).toMatchObject({ decision: "allow", audit: "acknowledged" });
  });
});

describe("a critical decision whose policy gave a reason without a rule", () => {
  it("is chained as a record that reads back: the tenant's queries, insights and verification still work", async () => {
    const tenant = uniqueId("ruleless").toLowerCase().replace(/[^a-z0-9-]/g, "-");
    const baseline = BASELINE_POLICY.data[0];
    // A layer's reasons are passed on as the policy gave them; one names no rule.
    const composed = composeLayers(
      [{ scope: "global", result: { decision: "deny", reasons: [{ message: "no rule named" }, { rule: "refund_over_hard_cap", message: "too much" }], obligations: [{ type: "audit_sync" }], fail_mode: "closed", risk_tier: "critical" } }],
      fallbackParams([baseline], "critical", "support", "tickets.read"),
    );
    const answer = {
      decision_id: crypto.randomUUID(),
      decision: composed.decision,
      reasons: composed.reasons,
      obligations: composed.obligations,
      policy: { layers: [] },
      evaluation: { eval_us: 1, path: "policy" },
      edge: { location: "test", region: "global", region_source: "local_default" },
      risk: { tier: "critical" },
      mode: "enforce",
      stale: false,
    } as unknown as AnsweredDecision;
    const input = {
      tenant,
      agent: { id: "agent-1", role: "support" },
      identity: { credential: { kind: "agent_key", id: "k0000000000000000" } },
      session: { id: "s-1" },
      action: { type: "tool_call", tool: "tickets.read", args: {} },
    } as unknown as DecisionInput;
    const chain = chainFor(env, tenant);
    const other = { kind: "decision", decision_id: crypto.randomUUID(), time: new Date().toISOString(), tenant, decision: "allow", rules: [] as string[] };
    await chain.append([other]);
    await appendAcknowledged(env, await buildAuditRecord(answer, input, Date.now()));

    // The record beside it is still listed, and so is this one.
    const listed = (await chain.query({})).records.map((r) => r.decision_id);
    expect(listed).toEqual([other.decision_id, answer.decision_id]);
    expect((await chain.query({ decision: "deny" })).records.map((r) => r.decision_id)).toEqual([answer.decision_id]);
    await chain.insights(0, Date.now() + 60_000, 3_600_000);

    await chain.sealPending();
    const text = async (key: string) => (await env.AUDIT_LOG.get(key))?.text() ?? null;
    const report = await verifyAuditLog(
      tenant,
      { head: { key: headKey(tenant), text: await text(headKey(tenant)) }, segments: [{ segment: 1, digest_key: digestKey(tenant, 1), digest: await text(digestKey(tenant, 1)), segment_key: segmentKey(tenant, 1), text: await text(segmentKey(tenant, 1)) }] },
      trustStoreFrom(env.TRUST_STORE),
    );
    expect(report).toMatchObject({ ok: true, entries: 2, problems: [] });
  });
});

describe("an acknowledged append of a record the chain cannot chain", () => {
  it("is no acknowledgement: it fails, so the decision that needed it fails closed", async () => {
    const tenant = uniqueId("unchainable").toLowerCase().replace(/[^a-z0-9-]/g, "-");
    // A BigInt crosses the RPC but has no JSON form: the chain object counts the record lost.
    const record = { kind: "decision", decision_id: crypto.randomUUID(), time: new Date().toISOString(), tenant, decision: "allow", rules: [], weight: 1n } as unknown as AuditRecord;
    await expect(appendAcknowledged(env, record)).rejects.toThrow(/could not chain/);
    expect((await chainFor(env, tenant).query({})).records).toEqual([]);
  });
});

describe("an export while the tenant's chain object cannot be reached", () => {
  it("still streams the sealed log from R2, and says what it could not ask: never a 500", async () => {
    const tenant = uniqueId("chain-down").toLowerCase().replace(/[^a-z0-9-]/g, "-");
    const chain = chainFor(env, tenant);
    await chain.append(Array.from({ length: 3 }, (_, i) => ({ decision_id: `${tenant}-${i}`, time: new Date().toISOString(), tenant, decision: "allow", rules: [] as string[] })));
    await chain.seal();
    // The tenant's chain object is overloaded; R2 answers as usual.
    const overloaded = () => Promise.reject(Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), { overloaded: true }));
    const chains = { idFromName: (name: string) => env.AUDIT_CHAINS.idFromName(name), get: () => ({ sealPending: overloaded, stats: overloaded, query: overloaded }) };
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`http://edge/v1/admin/audit/export?tenant=${tenant}`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } }),
      { ...env, AUDIT_CHAINS: chains } as unknown as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    const lines = (await response.text()).split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ type: "head", pending: { last_seal_error: expect.stringMatching(/overloaded/) } });
    expect(lines.filter((line) => line.type === "segment").map((line) => line.segment)).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ type: "end", segments: 1 });
  });
});

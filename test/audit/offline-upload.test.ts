/**
 * `POST /v1/offline/decisions`: what an agent uploads from its spool goes
 * into its tenant's audit log once per decision id, debits its session
 * once, and nothing in it can speak for another agent or tenant. Each bad
 * entry is refused on its own, with a reason, and never costs the good
 * ones; a bad request as a whole is a 4xx.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SPOOL_GENESIS, type SpoolEntry } from "../../packages/agent/src/spool";
import { OFFLINE_AGENT as AGENT, offlineRecord as record, spooled as chain } from "./offline-spool";
import { chainFor } from "../../src/audit/writer";
import type { AgentSpec } from "../identity/credentials";
import { agentFetch, sessionStub, uniqueId } from "../session/helpers";

const upload = (body: unknown, spec: AgentSpec = AGENT) =>
  agentFetch("/v1/offline/decisions", { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) }, spec);

/** A lease the session grants the agent, as the SDK asks for one before it goes offline. */
async function lease(session: string): Promise<{ lease_id: string; granted: { tokens: number; api_calls: number; cost_usd: number } }> {
  const response = await agentFetch("/v1/leases", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ session }) }, AGENT);
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json();
}

type Flags = { accepted: string[]; out_of_bounds?: Array<{ seq: number; reasons: string[] }> };
const flagsOf = (body: Flags) => (body.out_of_bounds ?? []).map((flag) => [flag.seq, flag.reasons]);

describe("uploading offline decisions", () => {
  it("appends each decision to the tenant's log once and debits its session once, however often it is sent", async () => {
    const session = uniqueId("upload");
    const entries = await chain([record(session), record(session), record(session, { decision: "deny", rules: ["tool_not_allowed_for_role"], cost: undefined })]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await upload({ entries });
      expect(response.status).toBe(200);
      // The two allowed decisions spent without naming a lease: taken, and marked so.
      const spentWithoutLease = entries.slice(0, 2).map((e) => ({ seq: e.seq, decision_id: e.record.decision_id, reasons: ["spent_without_lease"] }));
      expect(await response.json()).toEqual({ accepted: entries.map((e) => e.record.decision_id), rejected: [], out_of_bounds: spentWithoutLease });
    }
    const logged = (await chainFor(env, "acme").query({ session, limit: 100 })).records as Array<Record<string, any>>;
    expect(logged.map((r) => r.decision_id).sort()).toEqual(entries.map((e) => e.record.decision_id).sort());
    expect(logged[0]).toMatchObject({ location: "offline", region_source: "offline", credential: { kind: "agent_key" }, offline: { source: "local_policy", spool: { seq: 1, prev: SPOOL_GENESIS } } });
    // Only the allowed decisions cost anything.
    expect((await sessionStub(session, "offline-agent").view()).usage.api_calls).toBe(2);
  });

  it("refuses, one by one, entries of another agent or tenant, with a wrong hash, a made-up id, or a time out of range", async () => {
    const session = uniqueId("mixed");
    const good = record(session);
    const entries = await chain([
      good,
      record(session, { tenant: "initech" }),
      record(session, { agent: "someone-else" }),
      record(session, { time: new Date(Date.now() + 3_600_000).toISOString() }),
      record(session, { time: new Date(Date.now() - 8 * 86_400_000).toISOString() }),
      record(session, { decision_id: "0190f5c2-0000-7000-8000-000000000000" }),
    ]);
    entries.push({ ...(await chain([record(session)], 7, entries[5].hash))[0], hash: `sha256:${"c".repeat(64)}` });
    const response = await upload({ entries });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { accepted: string[]; rejected: Array<{ seq: number; code: string }> };
    expect(body.accepted).toEqual([good.decision_id]);
    expect(body.rejected.map((r) => [r.seq, r.code])).toEqual([
      [2, "identity_mismatch"],
      [3, "identity_mismatch"],
      [4, "from_the_future"],
      [5, "too_old"],
      [6, "invalid_record"],
      [7, "hash_mismatch"],
    ]);
    const logged = (await chainFor(env, "acme").query({ session, limit: 100 })).records;
    expect(logged.map((r) => r.decision_id)).toEqual([good.decision_id]);
    expect((await chainFor(env, "initech").query({ session, limit: 100 })).records).toEqual([]);
  });

  it("refuses a record larger than an online decision may be, without costing the records beside it", async () => {
    const session = uniqueId("outsized");
    const small = record(session);
    // 16 arguments of 31 KiB: within the JSON bounds one by one, about 500 KiB together.
    const args = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`a${i}`, "x".repeat(31 * 1024)]));
    const big = record(session, { args });
    const response = await upload({ entries: await chain([small, big]) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { accepted: string[]; rejected: Array<{ seq: number; code: string }> };
    expect(body.accepted).toEqual([small.decision_id]);
    expect(body.rejected.map((r) => [r.seq, r.code])).toEqual([[2, "too_large"]]);
    expect((await chainFor(env, "acme").query({ session, limit: 100 })).records.map((r) => r.decision_id)).toEqual([small.decision_id]);
  });

  it("marks, and never refuses, a record the governing policy's offline bounds could not have produced", async () => {
    const session = uniqueId("bounds");
    const { lease_id } = await lease(session);
    const now = Date.now();
    const within = record(session, { lease_id }, now);
    const critical = record(session, { risk_tier: "critical", lease_id }, now);
    const late = record(session, { last_contact: new Date(now - 3_600_000).toISOString(), lease_id }, now);
    const neverReached = record(session, { last_contact: null, lease_id }, now);
    const unleased = record(session, {}, now);
    const response = await upload({ entries: await chain([within, critical, late, neverReached, unleased]) });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { accepted: string[]; out_of_bounds: Array<{ seq: number; reasons: string[] }> };
    expect(body.accepted).toHaveLength(5);
    expect(body.out_of_bounds.map((flag) => [flag.seq, flag.reasons])).toEqual([
      [2, ["tier_not_offline"]],
      [3, ["outside_offline_window"]],
      [4, ["outside_offline_window"]],
      [5, ["spent_without_lease"]],
    ]);
    const logged = (await chainFor(env, "acme").query({ session, limit: 100 })).records as Array<Record<string, any>>;
    expect(logged.find((r) => r.decision_id === within.decision_id)?.offline?.out_of_bounds).toBeUndefined();
    expect(logged.find((r) => r.decision_id === critical.decision_id)?.offline?.out_of_bounds).toEqual(["tier_not_offline"]);
  });

  it("marks a fail mode's allow at a tier that fails closed, and a record dated before its own last contact; not a fail-open allow's cost", async () => {
    const session = uniqueId("fail-mode");
    const now = Date.now();
    const critical = record(session, { tool: "shell.exec", risk_tier: "critical", source: "fail_mode", rules: ["offline_not_permitted", "edge_unreachable"], layers: undefined, cost: undefined }, now);
    const failedOpen = record(session, { source: "fail_mode", rules: ["offline_window_passed", "edge_unreachable"], layers: undefined }, now);
    const rolledBack = record(session, { tool: "kb.search", cost: undefined, time: new Date(now - 2 * 3_600_000).toISOString(), last_contact: new Date(now - 60_000).toISOString() }, now);
    const body = (await (await upload({ entries: await chain([critical, failedOpen, rolledBack]) })).json()) as Flags;
    expect(body.accepted).toHaveLength(3);
    expect(flagsOf(body)).toEqual([
      [1, ["fail_mode_not_open"]],
      [3, ["outside_offline_window"]],
    ]);
    const logged = (await chainFor(env, "acme").query({ session, limit: 10 })).records as Array<Record<string, any>>;
    expect(logged.find((r) => r.decision_id === critical.decision_id)?.offline?.out_of_bounds).toEqual(["fail_mode_not_open"]);
  });

  it("holds a record's tier as the edge would judge it: a critical tool claimed at low is marked", async () => {
    const session = uniqueId("claimed-tier");
    const { lease_id } = await lease(session);
    // shell.exec's floor is critical; the global layer decides only low and medium offline.
    const understated = record(session, { tool: "shell.exec", risk_tier: "low", lease_id });
    const body = (await (await upload({ entries: await chain([understated]) })).json()) as Flags;
    expect(body.accepted).toEqual([understated.decision_id]);
    expect(flagsOf(body)).toEqual([[1, ["tier_not_offline"]]]);
  });

  it("marks an allowed spawn, which no one could credential offline; not a denied one", async () => {
    const session = uniqueId("spawn");
    const { lease_id } = await lease(session);
    const spawn = { action_type: "spawn_agent", tool: null, risk_tier: "medium", lease_id } as const;
    const allowed = record(session, spawn);
    const denied = record(session, { ...spawn, decision: "deny", rules: ["delegation_unavailable_offline"], cost: undefined });
    const failedOpen = record(session, { ...spawn, source: "fail_mode", rules: ["offline_window_passed", "edge_unreachable"], layers: undefined, lease_id: undefined });
    const body = (await (await upload({ entries: await chain([allowed, denied, failedOpen]) })).json()) as Flags;
    expect(body.accepted).toHaveLength(3);
    expect(flagsOf(body)).toEqual([
      [1, ["spawn_offline"]],
      [3, expect.arrayContaining(["spawn_offline"])],
    ]);
  });

  it("holds each spend against the lease it names: one never granted, another session's, or past what was granted is marked; a re-upload is not", async () => {
    const session = uniqueId("leased");
    const { lease_id: othersLease } = await lease(uniqueId("leased-other"));
    const { lease_id, granted } = await lease(session);
    const forged = record(session, { lease_id: `lse_${"1".repeat(24)}` });
    const borrowed = record(session, { lease_id: othersLease });
    const fits = record(session, { lease_id, cost: { tokens: 0, api_calls: granted.api_calls, cost_usd: 0 } });
    const beyond = record(session, { lease_id, cost: { tokens: 0, api_calls: 1, cost_usd: 0 } });
    const early = record(session, { lease_id, cost: { tokens: 0, api_calls: 0, cost_usd: 0 } }, Date.now() - 3_600_000);
    const entries = await chain([forged, borrowed, fits, beyond, early]);
    for (let attempt = 0; attempt < 2; attempt++) {
      const body = (await (await upload({ entries })).json()) as Flags;
      expect(body.accepted).toHaveLength(5);
      // Judged when they first came: sent again, they are already spent and stand as they were recorded.
      expect(flagsOf(body)).toEqual(
        attempt === 0
          ? [
              [1, ["unknown_lease"]],
              [2, ["unknown_lease"]],
              [4, ["lease_exceeded"]],
              [5, ["outside_lease"]],
            ]
          : [],
      );
    }
    // Debited all the same: nothing reported is dropped.
    expect((await sessionStub(session, "offline-agent").view()).usage.api_calls).toBe(2 + granted.api_calls + 1);
  });

  it("attributes a decision made before the agent ever reached an edge to the credential that uploads it", async () => {
    const session = uniqueId("unknown");
    const entries = await chain([record(session, { tenant: null, agent: null, source: "fail_mode", decision: "deny", rules: ["no_local_policy", "edge_unreachable"], cost: undefined, layers: undefined })]);
    const response = await upload({ entries });
    expect(((await response.json()) as { accepted: string[] }).accepted).toHaveLength(1);
    const [logged] = (await chainFor(env, "acme").query({ session, limit: 10 })).records as Array<Record<string, any>>;
    expect(logged).toMatchObject({ tenant: "acme", agent: "offline-agent", decision: "deny", fail_mode_applied: true, offline: { source: "fail_mode" } });
  });

  it("records a gap in the agent's chain instead of refusing what came after it", async () => {
    const session = uniqueId("gap");
    const [first, , third] = await chain([record(session), record(session), record(session)]);
    const response = await upload({ entries: [first, third] });
    expect(((await response.json()) as { accepted: string[] }).accepted).toHaveLength(2);
    const logged = (await chainFor(env, "acme").query({ session, limit: 100 })).records as Array<Record<string, any>>;
    const after = logged.find((r) => r.decision_id === third.record.decision_id)!;
    expect(after.offline.spool).toMatchObject({ seq: 3, gap_before: true });
  });

  it("records a gap between uploads too: an upload that follows on from no entry taken before", async () => {
    const session = uniqueId("gap-across");
    const [first, second, , fourth] = await chain([record(session), record(session), record(session), record(session)]);
    const spoolOf = async (entry: SpoolEntry) => {
      const logged = (await chainFor(env, "acme").query({ session, limit: 100 })).records as Array<Record<string, any>>;
      return logged.find((r) => r.decision_id === entry.record.decision_id)!.offline.spool;
    };
    await upload({ entries: [first] });
    await upload({ entries: [second] });
    // The same upload again (an answer that was lost) still follows on.
    await upload({ entries: [second] });
    expect(await spoolOf(second)).not.toHaveProperty("gap_before");
    // The third entry never arrives: the fourth follows on from nothing the edge took.
    await upload({ entries: [fourth] });
    expect(await spoolOf(fourth)).toMatchObject({ seq: 4, gap_before: true });
  });

  it("refuses a missing credential, and malformed, oversized or deeply nested uploads as a whole", async () => {
    const session = uniqueId("bad");
    const anonymous = await exports.default.fetch("http://edge/v1/offline/decisions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ entries: await chain([record(session)]) }) });
    expect(anonymous.status).toBe(401);
    expect((await upload("{")).status).toBe(400);
    expect((await upload({ entries: [] })).status).toBe(400);
    expect((await upload({ entries: await chain([record(session)]), more: true })).status).toBe(400);
    const tooMany = await chain(Array.from({ length: 101 }, () => record(session)));
    expect((await upload({ entries: tooMany })).status).toBe(400);
    const deep = await upload(`{"entries": [{"seq": 1, "prev": "x", "hash": "y", "record": ${"[".repeat(3000)}${"]".repeat(3000)}}]}`);
    expect(deep.status).toBe(400);
    const huge = await upload({ entries: await chain([record(session, { args: { blob: "x".repeat(600_000) } })]) });
    expect(huge.status).toBe(413);
    expect((await chainFor(env, "acme").query({ session, limit: 100 })).records).toEqual([]);
  });
});

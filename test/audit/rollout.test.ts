/**
 * Observe mode and shadow evaluation: a scope in observe mode decides and
 * logs for real but tells the agent allow; a shadow candidate is evaluated
 * beside the active policy and every difference shows up in its report.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { chainFor } from "../../src/audit/writer";
import { shadowShard } from "../../src/rollout/shadow";
import { TENANT_PATTERN } from "../../src/schema/tenant-id";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, decide, uniqueId } from "../session/helpers";
import { signLayer } from "../store/harness";

function refund(tenant: string, amount: number) {
  return { risk_tier: "high", tenant, agent: { id: "agent-7", role: "finance" }, session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "payments.refund", args: { amount } } };
}

describe("observe mode", () => {
  it("tells the agent allow, says what enforcement would have done, and logs the real decision", async () => {
    const tenant = "observe-co";
    const set = await admin(`/modes/tenant:${tenant}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ mode: "observe" }) });
    expect(set.status).toBe(200);
    expect((await admin(`/modes/tenant:${tenant}`, TEST_TOKENS.acmeOperator, { method: "PUT", body: JSON.stringify({ mode: "observe" }) })).status).toBe(403);
    expect((await admin(`/modes/tenant:${tenant}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ mode: "loud" }) })).status).toBe(400);

    const answer = await decide(refund(tenant, 99_999));
    expect(answer).toMatchObject({ decision: "allow", mode: "observe", reasons: [] });
    expect(answer.observed.decision).toBe("deny");
    expect(answer.observed.reasons.map((r: { rule: string }) => r.rule)).toContain("refund_over_hard_cap");

    const other = await decide(refund("enforce-co", 99_999));
    expect(other).toMatchObject({ decision: "deny", mode: "enforce" });

    const deadline = Date.now() + 20_000;
    let records: Array<Record<string, unknown>> = [];
    while (records.length === 0 && Date.now() < deadline) {
      records = (await chainFor(env, tenant).query({ decision_id: answer.decision_id })).records as Array<Record<string, unknown>>;
      if (records.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(records[0]).toMatchObject({ decision: "deny", told: "allow", mode: "observe" });
  });
});

describe("shadow evaluation", () => {
  it("evaluates a candidate beside the active policy and reports every difference", async () => {
    const tenant = "shadow-co";
    const { manifest, files } = await signLayer("tenant:acme", { version: 7, scope: `tenant:${tenant}`, keyId: "tenants-test", nowMs: Date.now() });
    const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    const attached = await admin(`/shadow/tenant:${tenant}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) });
    expect(attached.status).toBe(201);

    const overCap = await decide(refund(tenant, 1500));
    const small = await decide(refund(tenant, 100));
    const email = await decide({ risk_tier: "low", tenant, agent: { id: "agent-9", role: "support" }, session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "email.send", args: {} } });
    // The agent sees the active policy's answers; the candidate only observes.
    expect([overCap.decision, small.decision, email.decision]).toEqual(["require_approval", "allow", "allow"]);

    const deadline = Date.now() + 20_000;
    let report: { differences: number; transitions: Record<string, number>; rules: Record<string, number>; examples: Array<{ request_tenant: string }> };
    do {
      report = await (await admin(`/shadow/tenant:${tenant}/report`, TEST_TOKENS.operator)).json();
      if (report.differences < 2) await new Promise((r) => setTimeout(r, 100));
    } while (report.differences < 2 && Date.now() < deadline);
    expect(report.differences).toBe(2);
    expect(report.transitions).toEqual({ "require_approval → deny": 1, "allow → deny": 1 });
    expect(report.rules).toMatchObject({ refund_over_hard_cap: 1, tool_not_allowed_for_role: 1 });
    expect(report.examples.every((e) => e.request_tenant === tenant)).toBe(true);

    expect((await admin(`/shadow/tenant:${tenant}`, TEST_TOKENS.operator, { method: "DELETE" })).status).toBe(200);
  });

  it("keeps shadow diffs in shards no tenant can be: a tenant named like one reaches no report", async () => {
    const tenant = uniqueId("target").replace(/[^a-z0-9-]/g, "-").slice(0, 40);
    const impostor = `shadow-tenant-${tenant}`;
    const { manifest, files } = await signLayer("tenant:acme", { version: 9, scope: `tenant:${tenant}`, keyId: "tenants-test", nowMs: Date.now() });
    const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    expect((await admin(`/shadow/tenant:${tenant}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) })).status).toBe(201);
    for (const scope of ["global", "region:eu", `tenant:${tenant}`]) expect(shadowShard(scope)).not.toMatch(TENANT_PATTERN);

    // A tenant whose id is what the shard of tenant:<target> used to be: its log is its own.
    const answer = await decide(refund(impostor, 1500));
    const deadline = Date.now() + 20_000;
    while ((await chainFor(env, impostor).query({ decision_id: answer.decision_id })).records.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await chainFor(env, impostor).query({ decision_id: answer.decision_id })).records).toHaveLength(1);
    const report = await admin(`/shadow/tenant:${tenant}/report`, TEST_TOKENS.operator);
    expect(report.status).toBe(200);
    expect(await report.json()).toMatchObject({ differences: 0, examples: [] });

    expect((await admin(`/shadow/tenant:${tenant}`, TEST_TOKENS.operator, { method: "DELETE" })).status).toBe(200);
  });

  it("refuses a candidate that does not verify", async () => {
    const { manifest, files } = await signLayer("tenant:acme", { version: 8, scope: "tenant:shadow-two", keyId: "eu-test", nowMs: Date.now() });
    const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    const refused = await admin("/shadow/tenant:shadow-two", TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error: { code: "key_not_allowed_for_scope" } });
  });

  it("answers a malformed upload, here or at publish, with a 400 that says why", async () => {
    for (const path of ["/shadow/tenant:shadow-two", "/bundles/tenant:shadow-two"]) {
      const notJson = await admin(path, TEST_TOKENS.operator, { method: "PUT", body: "{manifest" });
      expect(notJson.status).toBe(400);
      expect(await notJson.json()).toMatchObject({ error: { code: "invalid_json" } });
      const notBase64 = await admin(path, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest: {}, files: { "policy.wasm": 7 } }) });
      expect(notBase64.status).toBe(400);
      expect(await notBase64.json()).toMatchObject({ error: { code: "invalid_bundle" } });
    }
  });
});

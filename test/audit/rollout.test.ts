/**
 * Observe mode and shadow evaluation, switched by signed rollout documents:
 * only a key with the rollout scope covering the scope can switch a scope
 * to observe, every change is in the publish log, and the signed global
 * layer forbids observe mode for critical actions. A scope in observe mode
 * decides and logs for real but tells the agent allow, and its sessions
 * record nothing enforcement would not have let happen. A shadow candidate
 * is evaluated beside the active policy and every difference shows up in
 * its report.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { chainFor } from "../../src/audit/writer";
import { shadowShard } from "../../src/rollout/shadow";
import { sessionObject } from "../../src/session/objects";
import { TENANT_PATTERN } from "../../src/schema/tenant-id";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, decide, uniqueId } from "../session/helpers";
import { signLayer, signRollout } from "../store/harness";

function refund(tenant: string, amount: number, session = uniqueId("s")) {
  return { risk_tier: "high", tenant, agent: { id: "agent-7", role: "finance" }, session: { id: session }, action: { type: "tool_call", tool: "payments.refund", args: { amount } } };
}

async function publishRollout(scope: string, signed: unknown, token: string = TEST_TOKENS.operator): Promise<Response> {
  return admin(`/rollout/${scope}`, token, { method: "PUT", body: JSON.stringify({ rollout: signed }) });
}

/** Makes this edge take the store's newest snapshot now (every edge would within a refresh interval). */
async function refresh(): Promise<void> {
  expect((await admin("/refresh", TEST_TOKENS.operator, { method: "POST" })).status).toBe(200);
}

async function recordOf(tenant: string, decisionId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  let records: Array<Record<string, unknown>> = [];
  while (records.length === 0 && Date.now() < deadline) {
    records = (await chainFor(env, tenant).query({ decision_id: decisionId })).records as Array<Record<string, unknown>>;
    if (records.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  return records[0];
}

beforeAll(async () => {
  const { manifest, files } = await signLayer("global", { version: Date.now(), nowMs: Date.now() });
  const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  expect((await admin("/bundles/global", TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) })).status).toBe(201);
});

describe("observe mode", () => {
  it("is switched only by a rollout document signed with a key that may, and every change is on the record", async () => {
    const scope = "tenant:observe-keys";
    const version = Date.now();
    const byLayerKey = await publishRollout(scope, await signRollout(scope, { version, mode: "observe" }, "tenants-test"));
    expect(byLayerKey.status).toBe(422);
    expect(await byLayerKey.json()).toMatchObject({ error: { code: "key_not_allowed_for_scope" } });
    const byEuKey = await publishRollout(scope, await signRollout(scope, { version, mode: "observe" }, "eu-rollout-test"));
    expect(byEuKey.status).toBe(422);
    const signed = await signRollout(scope, { version, mode: "observe" });
    const tampered = { ...signed, document: { ...signed.document, mode: "enforce" } };
    expect((await publishRollout(scope, tampered)).status).toBe(422);
    expect((await publishRollout(scope, { document: signed.document })).status).toBe(422);
    expect((await publishRollout(scope, signed, TEST_TOKENS.acmeOperator)).status).toBe(403);
    expect((await publishRollout(scope, signed)).status).toBe(201);
    const older = await publishRollout(scope, await signRollout(scope, { version: version - 1, mode: "enforce" }));
    expect(older.status).toBe(409);
    const log = await (await admin("/publish-log?limit=20", TEST_TOKENS.operator)).json<{ entries: Array<Record<string, unknown>> }>();
    expect(log.entries.find((entry) => entry.scope === scope && entry.outcome === "rollout")).toMatchObject({ actor: "platform-oncall", mode: "observe", version, key_id: "rollout-test" });
    expect(log.entries.filter((entry) => entry.scope === scope && entry.outcome === "refused").length).toBeGreaterThanOrEqual(4);
  });

  it("tells the agent allow, says what enforcement would have done, and logs the real decision", async () => {
    const tenant = "observe-co";
    expect((await publishRollout(`tenant:${tenant}`, await signRollout(`tenant:${tenant}`, { version: Date.now(), mode: "observe" }))).status).toBe(201);
    await refresh();

    const answer = await decide(refund(tenant, 99_999));
    expect(answer).toMatchObject({ decision: "allow", mode: "observe", reasons: [] });
    expect(answer.observed.decision).toBe("deny");
    expect(answer.observed.reasons.map((r: { rule: string }) => r.rule)).toContain("refund_over_hard_cap");

    const other = await decide(refund("enforce-co", 99_999));
    expect(other).toMatchObject({ decision: "deny", mode: "enforce" });
    expect(await recordOf(tenant, answer.decision_id)).toMatchObject({ decision: "deny", told: "allow", mode: "observe" });
  });

  it("is never applied to a critical action: the global layer forbids it, and the answer says so", async () => {
    const tenant = "observe-critical";
    expect((await publishRollout(`tenant:${tenant}`, await signRollout(`tenant:${tenant}`, { version: Date.now(), mode: "observe" }))).status).toBe(201);
    await refresh();
    const shell = await decide({ tenant, agent: { id: "eng", role: "engineer" }, session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "shell.exec", args: { command: "rm -rf /" } } });
    expect(shell).toMatchObject({ decision: "deny", mode: "enforce" });
    expect(shell.observe_refused).toContain("critical");
    expect(shell.reasons.map((r: { rule: string }) => r.rule)).toContain("dangerous_shell_command");
  });

  it("never trips a breaker, asks for no approval and spends no budget enforcement would have refused", async () => {
    const tenant = "observe-session";
    expect((await publishRollout(`tenant:${tenant}`, await signRollout(`tenant:${tenant}`, { version: Date.now(), mode: "observe" }))).status).toBe(201);
    await refresh();
    const session = uniqueId("observed");
    for (let i = 0; i < 5; i++) expect((await decide(refund(tenant, 99_999, session))).decision).toBe("allow");
    const needsApproval = await decide(refund(tenant, 900, session));
    expect(needsApproval).toMatchObject({ decision: "allow", observed: { decision: "require_approval" } });
    const view = await sessionObject(env, tenant, "agent-7", session).view();
    expect(view).toMatchObject({ breaker: "closed", approvals: [], usage: { api_calls: 0 } });
    // An action enforcement would allow is metered as ever.
    await decide(refund(tenant, 10, session));
    expect((await sessionObject(env, tenant, "agent-7", session).view()).usage.api_calls).toBe(1);
  });
});

/** Uploads the acme layer as tenant's shadow candidate and names it in a rollout document, as `tollgate shadow attach` does. */
async function attach(tenant: string, version: number): Promise<void> {
  const { manifest, files } = await signLayer("tenant:acme", { version, scope: `tenant:${tenant}`, keyId: "tenants-test", nowMs: Date.now() });
  const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  const uploaded = await admin(`/shadow/tenant:${tenant}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) });
  expect(uploaded.status).toBe(201);
  const { candidate } = await uploaded.json<{ candidate: { version: number; digest: string } }>();
  expect((await publishRollout(`tenant:${tenant}`, await signRollout(`tenant:${tenant}`, { version: Date.now(), shadow: candidate }))).status).toBe(201);
  await refresh();
}

async function detach(tenant: string): Promise<void> {
  expect((await publishRollout(`tenant:${tenant}`, await signRollout(`tenant:${tenant}`, { version: Date.now(), shadow: null }))).status).toBe(201);
}

describe("shadow evaluation", () => {
  it("evaluates a candidate beside the active policy and reports every difference", async () => {
    const tenant = "shadow-co";
    await attach(tenant, 7);

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

    await detach(tenant);
    expect(await (await admin(`/shadow/tenant:${tenant}/report`, TEST_TOKENS.operator)).json()).toMatchObject({ candidate: null });
  });

  it("keeps shadow diffs in shards no tenant can be: a tenant named like one reaches no report", async () => {
    const tenant = uniqueId("target").replace(/[^a-z0-9-]/g, "-").slice(0, 40);
    const impostor = `shadow-tenant-${tenant}`;
    await attach(tenant, 9);
    for (const scope of ["global", "region:eu", `tenant:${tenant}`]) expect(shadowShard(scope)).not.toMatch(TENANT_PATTERN);

    // A tenant whose id is what the shard of tenant:<target> used to be: its log is its own.
    const answer = await decide(refund(impostor, 1500));
    const deadline = Date.now() + 20_000;
    while ((await chainFor(env, impostor).query({ decision_id: answer.decision_id })).records.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await chainFor(env, impostor).query({ decision_id: answer.decision_id })).records).toHaveLength(1);
    const report = await admin(`/shadow/tenant:${tenant}/report`, TEST_TOKENS.operator);
    expect(report.status).toBe(200);
    expect(await report.json()).toMatchObject({ differences: 0, examples: [] });
    await detach(tenant);
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

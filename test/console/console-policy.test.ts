/**
 * Policy pages: a scope's active layer, mode, version history with who
 * published when, a diff of parameters and rule ids between two versions,
 * and the shadow report with its chart. Scopes a token does not cover are
 * neither listed nor shown; a manifest or data file that no longer parses
 * in the store is reported on the page, not thrown.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { chainFor } from "../../src/audit/writer";
import { toBase64Url } from "../../src/bundles/signature";
import { layerKey } from "../../src/bundles/store-layout";
import { shadowShard, type ShadowDiff } from "../../src/rollout/shadow";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin } from "../session/helpers";
import { layerFiles, signLayer } from "../store/harness";
import { signIn } from "./console-client";

const SCOPE = "tenant:console-co";
let v1 = 0;
let v2 = 0;

async function publishAs(scope: string, version: number, files: Record<string, Uint8Array>, fromScope = "tenant:acme"): Promise<void> {
  const { manifest } = await signLayer(fromScope, { version, nowMs: Date.now(), scope, keyId: scope === "global" ? "global-test" : "tenants-test", files });
  const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  const response = await admin(`/bundles/${scope}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) });
  expect(response.status, await response.clone().text()).toBe(201);
}

beforeAll(async () => {
  await publishAs("global", Date.now(), layerFiles("global"), "global");
  const files = layerFiles("tenant:acme");
  v1 = Date.now();
  await publishAs(SCOPE, v1, files);
  // v2 lowers the refund hard cap further: within the global layer's bounds.
  const data = JSON.parse(new TextDecoder().decode(files["data.json"])) as { tollgate: { params: { refunds: { hard_cap: number } } } };
  data.tollgate.params.refunds.hard_cap = 750;
  v2 = v1 + 1;
  await publishAs(SCOPE, v2, { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) });
  // Two differences a shadow candidate made, as the edge records them in the scope's shadow shard.
  const diff = (id: string, rules: string[]): ShadowDiff => ({
    kind: "shadow_diff",
    decision_id: id,
    time: new Date().toISOString(),
    tenant: shadowShard(SCOPE),
    scope: SCOPE,
    candidate: { version: 9, digest: `sha256:${"9".repeat(64)}` },
    request_tenant: "console-co",
    tool: "payments.refund",
    active: { decision: "allow", rules: [] },
    candidate_decision: { decision: "deny", rules },
    rules,
  });
  await chainFor(env, shadowShard(SCOPE)).append([diff(crypto.randomUUID(), ["refund_over_hard_cap"]), diff(crypto.randomUUID(), ["refund_over_hard_cap", "tool_not_allowed_for_role"])]);
});

describe("policy in the console", () => {
  it("shows the active layer, its mode, who published each version, and the diff between two", async () => {
    const browser = await signIn(TEST_TOKENS.operator);
    const list = await (await browser.get("/console/policy")).text();
    expect(list).toContain(`href="/console/policy/${SCOPE}"`);
    const page = await (await browser.get(`/console/policy/${SCOPE}`)).text();
    expect(page).toContain(`Version</dt><dd>${v2}</dd>`);
    expect(page).toContain("Enforce: agents get the policy&#39;s answer.");
    expect(page).toContain("platform-oncall");
    expect(page.match(/<td class="num">(\d+)<\/td>/g)?.join(" ")).toContain(String(v1));
    // The default diff is the newest against the one before it.
    expect(page).toContain(`From v${v1} to v${v2}: 1 parameter change`);
    expect(page).toMatch(/<code>refunds\.hard_cap<\/code><\/td><td class="">changed<\/td><td><code>1000<\/code><\/td><td><code>750<\/code>/);
    // The shadow report, and its chart by rule.
    expect(page).toContain("Differences by rule");
    expect(page).toMatch(/<title>refund_over_hard_cap: 2<\/title>/);
    expect(page).toMatch(/<title>tool_not_allowed_for_role: 1<\/title>/);
    expect(page).toContain("allow → deny");
  });

  it("another tenant's people see no scope of acme or console-co; bad scopes and versions are a 4xx", async () => {
    const initech = await signIn(TEST_TOKENS.initechEverything);
    const list = await (await initech.get("/console/policy")).text();
    expect(list).not.toContain(SCOPE);
    expect(list).not.toContain("/console/policy/global");
    expect((await initech.get(`/console/policy/${SCOPE}`)).status).toBe(403);
    expect((await initech.get("/console/policy/global")).status).toBe(403);
    const approver = await signIn(TEST_TOKENS.acmeApprover);
    expect((await approver.get("/console/policy")).status).toBe(403);
    const operator = await signIn(TEST_TOKENS.operator);
    expect((await operator.get("/console/policy/nonsense:scope")).status).toBe(400);
    expect((await operator.get(`/console/policy/${SCOPE}?a=zero`)).status).toBe(400);
  });

  it("a manifest or data file that no longer parses in the store is named on the page", async () => {
    await env.BUNDLES.put(layerKey(SCOPE, v1, "data.json"), "{not json");
    const operator = await signIn(TEST_TOKENS.operator);
    const response = await operator.get(`/console/policy/${SCOPE}?a=${v1}&b=${v2}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain(`v${v1}: data.json is not JSON`);
    await env.BUNDLES.put(layerKey(SCOPE, v2, "manifest.json"), "[1,");
    const again = await operator.get(`/console/policy/${SCOPE}`);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain(`${SCOPE} v${v2}: manifest.json is not JSON`);
  });
});

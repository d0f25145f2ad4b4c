/**
 * One deployment serves every location: the region that governs a request
 * is resolved per request, from where the request came from (`request.cf`
 * country, then continent, through the table in the signed global layer)
 * and, for a tenant pinned to a region, from its pin. The same Worker answers an EU
 * request and a US request differently, a tenant pinned to the EU is
 * governed by the EU layer wherever its agents call from (and by the layer
 * of where they call from as well), and the response and the audit record
 * say which region governed and why.
 */
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { chainFor } from "../../src/audit/writer";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentKey } from "../identity/credentials";
import { admin, uniqueId } from "../session/helpers";
import { signLayer } from "../store/harness";

async function publishToTheEdge(scope: string, version: number): Promise<void> {
  const { manifest, files } = await signLayer(scope, { version, nowMs: Date.now() });
  const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  const response = await admin(`/bundles/${scope}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) });
  expect(response.status, await response.clone().text()).toBe(201);
}

type Location = { country?: string; continent?: string };

async function refund(tenant: string, amount: number, cf?: Location): Promise<Record<string, any>> {
  const key = await agentKey({ tenant, agent: "agent-7", role: "finance" });
  const request = new Request("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "payments.refund", args: { amount } } }),
    ...(cf ? { cf } : {}),
  } as RequestInit);
  const response = await exports.default.fetch(request);
  expect(response.status).toBe(200);
  return response.json();
}

const scopes = (answer: Record<string, any>) => (answer.policy.layers as Array<{ scope: string }>).map((l) => l.scope);

beforeAll(async () => {
  const version = Date.now();
  for (const scope of ["global", "region:eu", "region:us", "tenant:globex"]) await publishToTheEdge(scope, version);
  const refreshed = await admin("/refresh", TEST_TOKENS.operator, { method: "POST" });
  const { edge } = await refreshed.json<{ edge: { layers: Array<{ scope: string; version: number }> } }>();
  expect(edge.layers).toEqual(["global", "region:eu", "region:us", "tenant:globex"].map((scope) => expect.objectContaining({ scope, version })));
});

describe("the governing region, per request", () => {
  it("the same Worker answers an EU request and a US request differently", async () => {
    const fromGermany = await refund("acme", 300, { country: "DE", continent: "EU" });
    expect(fromGermany.decision).toBe("require_approval");
    expect(fromGermany.edge).toMatchObject({ region: "eu", region_source: "country:DE" });
    expect(scopes(fromGermany)).toEqual(["global", "region:eu"]);

    const fromTheUs = await refund("acme", 300, { country: "US", continent: "NA" });
    expect(fromTheUs.decision).toBe("allow");
    expect(fromTheUs.edge).toMatchObject({ region: "us", region_source: "country:US" });
    expect(scopes(fromTheUs)).toEqual(["global", "region:us"]);
  });

  it("a country the table does not name falls back to its continent, and an unmapped place to the table's default", async () => {
    const fromBrazil = await refund("acme", 300, { country: "BR", continent: "SA" });
    expect(fromBrazil.edge).toMatchObject({ region: "us", region_source: "continent:SA" });
    const fromAntarctica = await refund("acme", 300, { country: "AQ", continent: "AN" });
    expect(fromAntarctica.edge).toMatchObject({ region: "global", region_source: "unmapped_location" });
    expect(scopes(fromAntarctica)).toEqual(["global"]);
    const local = await refund("acme", 300);
    expect(local.edge).toMatchObject({ region: "global", region_source: "local_default" });
  });

  it("a tenant pinned to the EU is governed by the EU layer wherever its agents call from, and by the layer of where they call from too", async () => {
    const cases: Array<[Location | undefined, string | undefined, string[]]> = [
      [{ country: "US", continent: "NA" }, "us", ["global", "region:eu", "region:us", "tenant:globex"]],
      // No APAC layer is published here: the region is named, and adds nothing.
      [{ country: "JP", continent: "AS" }, "apac", ["global", "region:eu", "tenant:globex"]],
      [{ country: "DE", continent: "EU" }, undefined, ["global", "region:eu", "tenant:globex"]],
      [undefined, undefined, ["global", "region:eu", "tenant:globex"]],
    ];
    for (const [cf, located, layers] of cases) {
      const answer = await refund("globex", 300, cf);
      expect(answer.decision).toBe("require_approval");
      expect(answer.edge).toMatchObject({ region: "eu", region_source: "tenant_pin" });
      expect(answer.edge.located_region).toBe(located);
      expect(scopes(answer)).toEqual(layers);
    }
  });

  it("an EU layer's lower token budget is what an EU session is held to", async () => {
    const key = await agentKey({ tenant: "acme", agent: "agent-7", role: "finance" });
    const session = uniqueId("eu-budget");
    // The caller claims no usage each time; the session's object knows what was spent, and this edge what it last heard from it.
    const spend = async (cf: Location) => {
      const request = new Request("http://edge/v1/decide", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ session: { id: session, usage: { tokens: 0 } }, action: { type: "tool_call", tool: "tickets.read", estimate: { tokens: 20_000 } } }),
        cf,
      } as RequestInit);
      return (await exports.default.fetch(request)).json<Record<string, any>>();
    };
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await spend({ country: "DE", continent: "EU" }));
    expect(answers.map((a) => a.decision)).toEqual(["allow", "allow", "deny"]);
    expect(answers[2].budget.limits.tokens).toBe(50_000);
    // Refused by the policy (a caller's zero cannot lower the usage this edge last heard) or by the object: a budget denial either way.
    const rules = [...answers[2].reasons, ...(answers[2].session.reasons ?? [])].map((r: { rule: string }) => r.rule);
    expect(rules).toContain("budget_exhausted");
    // The same spending under the US layer alone fits the global 100,000.
    const usSession = uniqueId("us-budget");
    const us = [];
    for (let i = 0; i < 3; i++) {
      const request = new Request("http://edge/v1/decide", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ session: { id: usSession, usage: { tokens: 0 } }, action: { type: "tool_call", tool: "tickets.read", estimate: { tokens: 20_000 } } }),
        cf: { country: "US", continent: "NA" },
      } as RequestInit);
      us.push(((await (await exports.default.fetch(request)).json()) as { decision: string }).decision);
    }
    expect(us).toEqual(["allow", "allow", "allow"]);
  });

  it("the audit record says which region governed, and why", async () => {
    const answer = await refund("acme", 300, { country: "FR", continent: "EU" });
    const deadline = Date.now() + 20_000;
    let records: Array<Record<string, unknown>> = [];
    while (records.length === 0 && Date.now() < deadline) {
      records = (await chainFor(env, "acme").query({ decision_id: answer.decision_id })).records as Array<Record<string, unknown>>;
      if (records.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(records[0]).toMatchObject({ region: "eu", region_source: "country:FR", credential: { kind: "agent_key" }, risk_tier: "high" });
  });
});

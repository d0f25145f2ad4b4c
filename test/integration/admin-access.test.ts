/**
 * The admin API's one gate, tried against every admin route the Worker
 * has: each route is in the access table, none answers without a token, a
 * token without the route's role is refused, and another tenant's
 * administrators — every role, but over tenant initech — reach nothing of
 * acme's, of a region's or of the deployment's. A malformed token
 * configuration closes the API (503) rather than granting anything.
 */
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import worker from "../../src/index";
import { ADMIN_ACCESS, type AccessRule } from "../../src/routes/admin-access";
import { TEST_TOKENS } from "../fixtures/test-config";

const SAMPLE_PARAMS: Record<string, string> = {
  tenant: "acme",
  agent: "agent-1",
  session: "s-1",
  id: `apr_${"ab".repeat(32)}_${"0".repeat(24)}`,
  scope: "region:eu",
  version: "1",
  key: "k0000000000000000",
};

function concrete(rule: AccessRule): string {
  const path = rule.path.replace(/:(\w+)/g, (_, name: string) => SAMPLE_PARAMS[name]);
  return rule.scope.kind === "tenant_query" ? `${path}?tenant=acme` : path;
}

function call(rule: AccessRule, token?: string, url = concrete(rule)): Promise<Response> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const hasBody = rule.method === "PUT" || rule.method === "POST";
  if (hasBody) headers["content-type"] = "application/json";
  return exports.default.fetch(`http://edge${url}`, { method: rule.method, headers, body: hasBody ? "{}" : undefined });
}

const label = (rule: AccessRule) => `${rule.method} ${rule.path}`;

describe("the admin gate", () => {
  it("has an access rule for every admin route the Worker serves, and none for a route it does not", () => {
    const served = app.routes
      .filter((route) => route.path.startsWith("/v1/admin/") && route.path !== "/v1/admin/*" && route.method !== "ALL")
      .map((route) => `${route.method} ${route.path}`);
    const ruled = ADMIN_ACCESS.map(label);
    expect(new Set(served)).toEqual(new Set(ruled));
  });

  it.each(ADMIN_ACCESS.map((rule) => [label(rule), rule] as const))("%s: no token 401, a token without the role 403, another tenant's administrators 403", async (_name, rule) => {
    const none = await call(rule);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "unauthenticated" } });
    expect((await call(rule, "not-a-token")).status).toBe(401);

    const roleless = rule.roles.includes("approver") ? TEST_TOKENS.registrar : TEST_TOKENS.acmeApprover;
    const wrongRole = await call(rule, roleless);
    expect(wrongRole.status).toBe(403);
    expect(await wrongRole.json()).toMatchObject({ error: { code: "forbidden" } });

    if (rule.scope.kind !== "listed") {
      const elsewhere = await call(rule, TEST_TOKENS.initechEverything);
      expect(elsewhere.status).toBe(403);
    }
  });

  it("a listed route shows another tenant's administrators only their own scope", async () => {
    const log = await exports.default.fetch("http://edge/v1/admin/publish-log", { headers: { authorization: `Bearer ${TEST_TOKENS.initechEverything}` } });
    expect(log.status).toBe(200);
    const { entries } = await log.json<{ entries: Array<{ scope: string }> }>();
    expect(entries.every((entry) => entry.scope === "tenant:initech")).toBe(true);
    const bundles = await exports.default.fetch("http://edge/v1/admin/bundles", { headers: { authorization: `Bearer ${TEST_TOKENS.initechEverything}` } });
    expect(bundles.status).toBe(200);
    const body = await bundles.json<{ edge: { conflicts: unknown[]; layers: Array<{ scope: string }> } | null }>();
    expect(body.edge?.conflicts ?? []).toEqual([]);
  });

  it("a malformed parameter is 400 before any grant is looked at, never a 500", async () => {
    for (const path of ["/v1/admin/bundles/nonsense:scope/1", "/v1/admin/bundles/%E0%A4%A/1", "/v1/admin/approvals/ACME", "/v1/admin/audit/records"]) {
      const response = await exports.default.fetch(`http://edge${path}`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } });
      expect(response.status, path).toBe(400);
    }
  });
});

describe("a malformed ADMIN_TOKENS closes the admin API", () => {
  const principal = { subject: "acme-auditor", roles: ["auditor"], scopes: ["tenant:acme"] };
  const sha = async (text: string) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");

  async function asConfigured(adminTokens: string, token: string, path: string): Promise<Response> {
    const request = new Request(`http://edge${path}`, { headers: { authorization: `Bearer ${token}` } });
    return worker.fetch(request, { ...env, ADMIN_TOKENS: adminTokens }, createExecutionContext());
  }

  it("roles or scopes given as strings, not lists, are refused as configuration (503), never matched by substring", async () => {
    const token = "tg-test-substring";
    const stringScopes = JSON.stringify({ [await sha(token)]: { ...principal, scopes: "tenant:acmecorp" } });
    const stringRoles = JSON.stringify({ [await sha(token)]: { ...principal, roles: "auditor,operator" } });
    for (const table of [stringScopes, stringRoles, "not json", JSON.stringify({ short: principal })]) {
      const response = await asConfigured(table, token, "/v1/admin/audit/records?tenant=acme");
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: "misconfigured" } });
    }
  });

  it("a token scoped to tenant acmecorp reads nothing of tenant acme", async () => {
    const token = "tg-test-acmecorp";
    const table = JSON.stringify({ [await sha(token)]: { ...principal, scopes: ["tenant:acmecorp"] } });
    expect((await asConfigured(table, token, "/v1/admin/audit/records?tenant=acme")).status).toBe(403);
    expect((await asConfigured(table, token, "/v1/admin/audit/records?tenant=acmecorp")).status).toBe(200);
  });
});

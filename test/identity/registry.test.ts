/**
 * A tenant's agent registry through the admin API, and what it decides at
 * run time. Proves that an agent key is shown once and stored only as the
 * sha256 of its secret; that keys go only to registered agents and carry at
 * most their registered scopes; that a revoked key (or a deregistered
 * agent's) is refused on the very next decision; that every change is
 * recorded with who, what and when; that every route checks the admin's role
 * and tenant and refuses malformed input with a 400 naming the field; that
 * certification and the registered tiers are enforced when the agent acts;
 * and, with RefreshingCache driven by an explicit clock, that another
 * isolate sees a change within one refresh interval and never serves a copy
 * older than the staleness bound.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/bundles/canonical";
import { authenticate } from "../../src/identity/authenticate";
import { registryObject } from "../../src/identity/registry-cache";
import { RefreshingCache, SourceUnavailable } from "../../src/identity/refreshing-cache";
import { TEST_TOKENS } from "../fixtures/test-config";
import { decideRaw, uniqueId, type DecisionBody } from "../session/helpers";
import { agentKey, issueKey, register, registration, registryAdmin } from "./credentials";

const newTenant = (label: string) => `reg-${label}-${crypto.randomUUID().slice(0, 8)}`;
const as = (key: string) => ({ authorization: `Bearer ${key}` });
const rules = (body: DecisionBody) => body.reasons.map((reason) => reason.rule);

function putAgent(tenant: string, agent: string, body: unknown, token: string = TEST_TOKENS.registrar): Promise<Response> {
  return registryAdmin(`/${tenant}/agents/${encodeURIComponent(agent)}`, { method: "PUT", body: typeof body === "string" ? body : JSON.stringify(body) }, token);
}

function postKey(tenant: string, agent: string, body: unknown = {}, token: string = TEST_TOKENS.registrar): Promise<Response> {
  return registryAdmin(`/${tenant}/agents/${encodeURIComponent(agent)}/keys`, { method: "POST", body: JSON.stringify(body) }, token);
}

/** An admin request exactly as given: no token unless `init` has one, and its own content type. */
function rawAdmin(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(`http://edge/v1/admin/registry${path}`, init);
}

const revoke = (tenant: string, keyId: string, token: string = TEST_TOKENS.registrar) => registryAdmin(`/${tenant}/keys/${keyId}`, { method: "DELETE" }, token);

async function status(response: Response, expected: number): Promise<any> {
  const text = await response.text();
  expect(response.status, text).toBe(expected);
  return text ? JSON.parse(text) : undefined;
}

function readTicket(): Record<string, unknown> {
  return { session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } };
}

function refund(amount = 10): Record<string, unknown> {
  return { risk_tier: "high", session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "payments.refund", args: { amount, currency: "EUR" } } };
}

async function decideAs(key: string, body: Record<string, unknown>): Promise<DecisionBody> {
  return status(await decideRaw(body, as(key)), 200);
}

async function allChanges(tenant: string, token: string = TEST_TOKENS.registrar) {
  const changes: Array<{ seq: number; at: string; actor: string; action: string; target: string; detail: any }> = [];
  let after = 0;
  for (;;) {
    const page = await status(await registryAdmin(`/${tenant}/changes?after_seq=${after}&limit=1000`, {}, token), 200);
    changes.push(...page.changes);
    if (page.next_after_seq === undefined) return changes;
    after = page.next_after_seq;
  }
}

describe("agent keys", () => {
  it("are issued once to a registered agent as tgk_<tenant>_<kid>_<secret>, and the registry keeps only the sha256 of the secret", async () => {
    const tenant = newTenant("keys");
    const agent = uniqueId("agent");
    const created = await status(await putAgent(tenant, agent, registration({ role: "support", scopes: ["tickets:read", "kb:read"], certified_until: "2099-06-30" })), 201);
    // A certification date given as a day runs to the end of that day.
    expect(created).toMatchObject({ agent, registration: { role: "support", certified_until: "2099-06-30T23:59:59.999Z" }, keys: [] });
    await status(await putAgent(tenant, agent, registration({ role: "support", scopes: ["tickets:read", "kb:read"] })), 200);

    const response = await postKey(tenant, agent, { label: "ci runner", scopes: ["tickets:read"] });
    expect(response.headers.get("cache-control")).toBe("no-store");
    const issued = await status(response, 201);
    const match = new RegExp(`^tgk_${tenant}_(k[0-9a-f]{16})_([A-Za-z0-9_-]{43})$`).exec(issued.key);
    expect(match, issued.key).not.toBeNull();
    const [, keyId, secret] = match!;
    expect(issued).toMatchObject({ key_id: keyId, agent, label: "ci runner", scopes: ["tickets:read"], created_by: "identity-team", revoked_at: null });

    const stored = await runInDurableObject(registryObject(env, tenant), async (_instance, state) => ({
      keys: state.storage.sql.exec("SELECT * FROM keys").toArray(),
      changes: state.storage.sql.exec("SELECT * FROM changes").toArray(),
    }));
    expect(stored.keys).toHaveLength(1);
    expect(stored.keys[0]).toMatchObject({ key_id: keyId, agent_id: agent, secret_sha256: await sha256Hex(secret) });
    for (const table of [stored.keys, stored.changes]) {
      expect(JSON.stringify(table)).not.toContain(secret);
      expect(JSON.stringify(table)).not.toContain(issued.key);
    }

    // Listing shows the key, never its secret.
    for (const path of [`/${tenant}/agents`, `/${tenant}/agents/${agent}`]) {
      const listing = await (await registryAdmin(path)).text();
      expect(listing).toContain(keyId);
      expect(listing).not.toContain(secret);
    }
    const view = await status(await registryAdmin(`/${tenant}/agents/${agent}`), 200);
    expect(view.keys).toEqual([expect.objectContaining({ key_id: keyId, label: "ci runner", scopes: ["tickets:read"] })]);
    expect(view.keys[0]).not.toHaveProperty("key");

    // The key works, carrying the scopes it was issued with.
    const answer = await decideAs(issued.key, readTicket());
    expect(answer.identity).toMatchObject({ tenant, agent, role: "support", scopes: ["tickets:read"], credential: { kind: "agent_key", id: keyId } });
    // Its secret altered by one character, it is refused.
    const altered = issued.key.slice(0, -1) + (issued.key.endsWith("A") ? "B" : "A");
    expect((await decideRaw(readTicket(), as(altered))).status).toBe(401);
  });

  it("are not issued to an unregistered agent, nor with scopes beyond the registration", async () => {
    const tenant = newTenant("nokey");
    const agent = uniqueId("agent");
    expect(await status(await postKey(tenant, agent), 404)).toMatchObject({ error: { code: "agent_not_registered" } });
    await status(await putAgent(tenant, agent, registration({ scopes: ["tickets:read"] })), 201);
    expect(await status(await postKey(tenant, agent, { scopes: ["tickets:read", "payments:write"] }), 422)).toMatchObject({
      error: { code: "scope_not_registered", message: expect.stringContaining("payments:write") },
    });
    expect(await status(await postKey(tenant, agent, { expires_in_days: 0 }), 400)).toMatchObject({ error: { path: "expires_in_days" } });
    // Nothing was issued by the refused requests.
    expect((await status(await registryAdmin(`/${tenant}/agents/${agent}`), 200)).keys).toEqual([]);
  });

  it("work for agents named like members of Object.prototype (__proto__, constructor) as for any other", async () => {
    const tenant = newTenant("proto");
    for (const agent of ["__proto__", "constructor", "toString"]) {
      await status(await putAgent(tenant, agent, registration({ role: "support", scopes: ["tickets:read"] })), 201);
      const issued = await status(await postKey(tenant, agent), 201);
      const answer = await decideAs(issued.key, readTicket());
      expect(answer.identity, agent).toMatchObject({ tenant, agent, role: "support" });
      expect(answer.decision, agent).toBe("allow");
    }
  });
});

describe("revocation", () => {
  it("a revoked key is refused on the very next decision; revoking it again is 409", async () => {
    const tenant = newTenant("revoke");
    const agent = uniqueId("agent");
    await status(await putAgent(tenant, agent, registration({})), 201);
    const first = await status(await postKey(tenant, agent), 201);
    const second = await status(await postKey(tenant, agent), 201);
    expect((await decideAs(first.key, readTicket())).decision).toBe("allow");

    const revoked = await status(await revoke(tenant, first.key_id), 200);
    expect(revoked).toMatchObject({ key_id: first.key_id, revoked_by: "identity-team" });
    expect(Date.parse(revoked.revoked_at)).toBeGreaterThan(0);

    const refused = await decideRaw(readTicket(), as(first.key));
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer realm="tollgate", error="invalid_token"/);
    // Only that key: the agent's other key still works.
    expect((await decideAs(second.key, readTicket())).decision).toBe("allow");

    expect(await status(await revoke(tenant, first.key_id), 409)).toMatchObject({ error: { code: "already_revoked" } });
    expect(await status(await revoke(tenant, "k0000000000000000"), 404)).toMatchObject({ error: { code: "not_found" } });
    expect(await status(await revoke(tenant, "not-a-key-id"), 400)).toMatchObject({ error: { code: "invalid_key_id" } });
  });

  it("a key this isolate has verified and remembers is still refused once it expires, and follows a narrowed registration", async () => {
    const tenant = newTenant("remembered");
    const agent = uniqueId("agent");
    await status(await putAgent(tenant, agent, registration({ scopes: ["tickets:read", "kb:read"] })), 201);
    const issued = await status(await postKey(tenant, agent, { expires_in_days: 1 }), 201);
    const context = (nowMs: number) => ({ env, nowMs, background: (work: Promise<unknown>) => void work.catch(() => undefined) });
    const now = Date.now();
    const first = await authenticate(`Bearer ${issued.key}`, context(now));
    expect(first).toMatchObject({ tenant, agent, scopes: ["tickets:read", "kb:read"] });
    // Remembered: the same identity, without verifying again.
    expect(await authenticate(`Bearer ${issued.key}`, context(now + 1_000))).toBe(first);
    // A day and a bit later the key has expired, remembered or not.
    await expect(authenticate(`Bearer ${issued.key}`, context(now + 25 * 3_600_000))).rejects.toMatchObject({ status: 401, code: "invalid_credential" });
    // A registration narrowed after the key was remembered narrows what the key proves on the next decision.
    expect((await decideAs(issued.key, readTicket())).identity).toMatchObject({ scopes: ["tickets:read", "kb:read"] });
    await status(await putAgent(tenant, agent, registration({ scopes: ["tickets:read"] })), 200);
    expect((await decideAs(issued.key, readTicket())).identity).toMatchObject({ scopes: ["tickets:read"] });
  });

  it("deregistering an agent revokes its keys", async () => {
    const tenant = newTenant("dereg");
    const agent = uniqueId("agent");
    await status(await putAgent(tenant, agent, registration({})), 201);
    const keys = [await status(await postKey(tenant, agent), 201), await status(await postKey(tenant, agent), 201)];
    for (const key of keys) expect((await decideAs(key.key, readTicket())).decision).toBe("allow");

    expect(await status(await registryAdmin(`/${tenant}/agents/${agent}`, { method: "DELETE" }), 200)).toEqual({ agent, removed: true, revoked_keys: 2 });
    for (const key of keys) expect((await decideRaw(readTicket(), as(key.key))).status).toBe(401);
    await status(await registryAdmin(`/${tenant}/agents/${agent}`), 404);
    const rows = await runInDurableObject(registryObject(env, tenant), async (_instance, state) =>
      state.storage.sql.exec<{ revoked_ms: number | null; revoked_by: string | null }>("SELECT revoked_ms, revoked_by FROM keys").toArray(),
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatchObject({ revoked_ms: expect.any(Number), revoked_by: "identity-team" });
    // Registering the agent again does not bring its old keys back.
    await status(await putAgent(tenant, agent, registration({})), 201);
    for (const key of keys) expect((await decideRaw(readTicket(), as(key.key))).status).toBe(401);
  });
});

describe("the change record", () => {
  it("records every change with who made it, what it was and when", async () => {
    // On acme, so two admins with different subjects can act on the same tenant.
    const tenant = "acme";
    const agent = uniqueId("audited");
    const before = Date.now();
    await status(await putAgent(tenant, agent, registration({ role: "support" }), TEST_TOKENS.registrar), 201);
    await status(await putAgent(tenant, agent, registration({ role: "support", max_risk_tier: "medium" }), TEST_TOKENS.acmeRegistrar), 200);
    const key = await status(await postKey(tenant, agent, { label: "audited" }, TEST_TOKENS.acmeRegistrar), 201);
    await status(await revoke(tenant, key.key_id, TEST_TOKENS.registrar), 200);
    await status(await registryAdmin(`/${tenant}/agents/${agent}`, { method: "DELETE" }, TEST_TOKENS.acmeRegistrar), 200);
    const after = Date.now();

    // An auditor may read the record.
    const mine = (await allChanges(tenant, TEST_TOKENS.acmeAuditor)).filter((change) => change.target === agent || change.target === key.key_id);
    expect(mine.map(({ action, actor, target }) => ({ action, actor, target }))).toEqual([
      { action: "agent_registered", actor: "identity-team", target: agent },
      { action: "agent_updated", actor: "acme-identity", target: agent },
      { action: "key_issued", actor: "acme-identity", target: key.key_id },
      { action: "key_revoked", actor: "identity-team", target: key.key_id },
      { action: "agent_removed", actor: "acme-identity", target: agent },
    ]);
    expect(mine[1].detail).toMatchObject({ from: { max_risk_tier: "critical" }, to: { max_risk_tier: "medium" } });
    expect(mine[2].detail).toMatchObject({ agent, label: "audited" });
    expect(JSON.stringify(mine)).not.toContain(key.key);
    for (let i = 0; i < mine.length; i++) {
      const at = Date.parse(mine[i].at);
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(after);
      if (i > 0) {
        expect(mine[i].seq).toBeGreaterThan(mine[i - 1].seq);
        expect(at).toBeGreaterThanOrEqual(Date.parse(mine[i - 1].at));
      }
    }
  });

  it("pages with after_seq and limit, and refuses bad paging parameters", async () => {
    const tenant = newTenant("paging");
    for (let i = 0; i < 3; i++) await status(await putAgent(tenant, `agent-${i}`, registration({})), 201);
    const first = await status(await registryAdmin(`/${tenant}/changes?limit=2`), 200);
    expect(first.changes.map((c: { target: string }) => c.target)).toEqual(["agent-0", "agent-1"]);
    const rest = await status(await registryAdmin(`/${tenant}/changes?after_seq=${first.next_after_seq}&limit=2`), 200);
    expect(rest.changes.map((c: { target: string }) => c.target)).toEqual(["agent-2"]);
    expect(rest.next_after_seq).toBeUndefined();
    for (const query of ["limit=0", "limit=1001", "after_seq=-1", "after_seq=abc"]) {
      expect((await registryAdmin(`/${tenant}/changes?${query}`)).status, query).toBe(400);
    }
  });
});

describe("who may use the registry routes", () => {
  const agent = uniqueId("acl-agent");
  const key = "k0123456789abcdef";
  const body = registration({});
  const provider = { issuer: "https://acl.example.com/", audience: "tollgate", jwks: { keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] } };
  const reads = (tenant: string): Array<[string, RequestInit]> => [
    [`/${tenant}/agents`, {}],
    [`/${tenant}/agents/${agent}`, {}],
    [`/${tenant}/provider`, {}],
    [`/${tenant}/changes`, {}],
  ];
  const writes = (tenant: string): Array<[string, RequestInit]> => [
    [`/${tenant}/agents/${agent}`, { method: "PUT", body: JSON.stringify(body) }],
    [`/${tenant}/agents/${agent}/keys`, { method: "POST", body: "{}" }],
    [`/${tenant}/keys/${key}`, { method: "DELETE" }],
    [`/${tenant}/provider`, { method: "PUT", body: JSON.stringify(provider) }],
    [`/${tenant}/provider`, { method: "DELETE" }],
    [`/${tenant}/agents/${agent}`, { method: "DELETE" }],
  ];
  const label = (path: string, init: RequestInit) => `${init.method ?? "GET"} ${path}`;

  it("no token, or an unknown one: 401 on every route", async () => {
    for (const [path, init] of [...reads("acme"), ...writes("acme")]) {
      const headers = init.body ? { "content-type": "application/json" } : undefined;
      expect(await status(await rawAdmin(path, { ...init, headers }), 401), label(path, init)).toMatchObject({ error: { code: "unauthenticated" } });
      expect((await registryAdmin(path, init, "tg-not-a-token")).status, label(path, init)).toBe(401);
    }
  });

  it("acme's agent admin on initech's routes, and an approver anywhere: 403 on every route", async () => {
    for (const [path, init] of [...reads("initech"), ...writes("initech")]) {
      expect(await status(await registryAdmin(path, init, TEST_TOKENS.acmeRegistrar), 403), label(path, init)).toMatchObject({ error: { code: "forbidden" } });
      expect((await registryAdmin(path, init, TEST_TOKENS.initechApprover)).status, label(path, init)).toBe(403);
    }
    for (const [path, init] of [...reads("acme"), ...writes("acme")]) {
      expect((await registryAdmin(path, init, TEST_TOKENS.acmeApprover)).status, label(path, init)).toBe(403);
      expect((await registryAdmin(path, init, TEST_TOKENS.acmePublisher)).status, label(path, init)).toBe(403);
    }
    // initech's registry was not touched by any of them.
    expect((await status(await registryAdmin(`/initech/agents/${agent}`), 404))).toMatchObject({ error: { code: "not_found" } });
  });

  it("acme's auditor and operator may read acme's registry but change nothing", async () => {
    const tenant = "acme";
    await status(await putAgent(tenant, agent, body, TEST_TOKENS.acmeRegistrar), 201);
    for (const token of [TEST_TOKENS.acmeAuditor, TEST_TOKENS.acmeOperator]) {
      for (const [path, init] of reads(tenant)) {
        const response = await registryAdmin(path, init, token);
        // acme has no identity provider registered: 404, not 403.
        expect(response.status, label(path, init)).toBe(path.endsWith("/provider") ? 404 : 200);
      }
      for (const [path, init] of writes(tenant)) {
        expect(await status(await registryAdmin(path, init, token), 403), label(path, init)).toMatchObject({ error: { code: "forbidden" } });
      }
    }
    const view = await status(await registryAdmin(`/${tenant}/agents/${agent}`, {}, TEST_TOKENS.acmeAuditor), 200);
    expect(view).toMatchObject({ agent, keys: [], registration: { role: body.role } });
  });
});

describe("malformed registry requests are 400, never 500", () => {
  const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

  it("an agent registration with a bad tier, a bad date, a bad role or a missing owner names the field", async () => {
    const tenant = newTenant("badbody");
    const agent = uniqueId("agent");
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["bad max tier", { ...registration({}), max_risk_tier: "extreme" }, "max_risk_tier"],
      ["bad tier", { ...registration({}), risk_tier: "severe" }, "risk_tier"],
      ["bad date", { ...registration({}), certified_until: "next tuesday" }, "certified_until"],
      ["impossible date", { ...registration({}), certified_until: "2026-13-45" }, "certified_until"],
      ["bad role", { ...registration({}), role: "Finance Team" }, "role"],
      ["scopes not a list", { ...registration({}), scopes: "tickets:read" }, "scopes"],
      ["owner missing", { ...registration({}), owner: undefined }, "owner"],
    ];
    for (const [what, body, path] of cases) {
      expect(await status(await putAgent(tenant, agent, body), 400), what).toMatchObject({ error: { code: "invalid_input", path } });
    }
    await status(await registryAdmin(`/${tenant}/agents/${agent}`), 404);
  });

  it("an agent registration with an unknown field is 400, naming the field in error.path", async () => {
    const tenant = newTenant("unknownfield");
    const agent = uniqueId("agent");
    const refused = await status(await putAgent(tenant, agent, { ...registration({}), superuser: true }), 400);
    expect(refused.error).toMatchObject({ code: "invalid_input", message: expect.stringContaining("superuser") });
    await status(await registryAdmin(`/${tenant}/agents/${agent}`), 404);
    expect(refused.error.path).toBe("superuser");
  });

  it("bodies nested 10,000 deep, not JSON or not JSON at all are refused with 400 (or 415), on every route that takes a body", async () => {
    const tenant = newTenant("deep");
    const agent = uniqueId("agent");
    await status(await putAgent(tenant, agent, registration({})), 201);
    const nested = (field: string) => `{"${field}": ${deep(10_000)}}`;
    const targets: Array<[string, string, string]> = [
      [`/${tenant}/agents/${agent}`, "PUT", "owner"],
      [`/${tenant}/agents/${agent}/keys`, "POST", "scopes"],
      [`/${tenant}/provider`, "PUT", "issuer"],
    ];
    for (const [path, method, field] of targets) {
      const deepResponse = await registryAdmin(path, { method, body: nested(field) });
      const refused = await status(deepResponse, 400);
      expect(refused.error.code, `${method} ${path}`).toBe("invalid_input");
      expect(refused.error.path, `${method} ${path}`).toMatch(new RegExp(`^${field}(\\.0)+$`));
      expect(await status(await registryAdmin(path, { method, body: "{not json" }), 400)).toMatchObject({ error: { code: "invalid_json" } });
      const plain = await rawAdmin(path, { method, body: "owner=x", headers: { "content-type": "text/plain", authorization: `Bearer ${TEST_TOKENS.registrar}` } });
      expect(plain.status, `${method} ${path}`).toBe(415);
    }
    // The registration is as it was.
    expect((await status(await registryAdmin(`/${tenant}/agents/${agent}`), 200)).registration).toMatchObject({ owner: registration({}).owner });
  });

  it("an agent id with '/', spaces or too many characters, or a tenant id in capitals, is 400", async () => {
    for (const bad of ["team/agent", "my agent", "agent\u0000", "a".repeat(129)]) {
      for (const [path, method] of [
        [`/acme/agents/${encodeURIComponent(bad)}`, "PUT"],
        [`/acme/agents/${encodeURIComponent(bad)}`, "GET"],
        [`/acme/agents/${encodeURIComponent(bad)}/keys`, "POST"],
      ] as const) {
        const response = await registryAdmin(path, { method, ...(method === "GET" ? {} : { body: JSON.stringify(method === "PUT" ? registration({}) : {}) }) });
        expect(await status(response, 400), `${method} ${JSON.stringify(bad)}`).toMatchObject({ error: { code: "invalid_agent", path: "agent" } });
      }
    }
    expect(await status(await putAgent("ACME", "agent-1", registration({})), 400)).toMatchObject({ error: { code: "invalid_tenant" } });
  });
});

describe("the registration is enforced when the agent acts", () => {
  it("an agent whose certification lapsed is denied a high-tier action (agent_not_certified) and allowed a low-tier one", async () => {
    const tenant = newTenant("lapsed");
    const certified = await agentKey({ tenant, agent: uniqueId("certified"), role: "finance" });
    const lapsed = await agentKey({ tenant, agent: uniqueId("lapsed"), role: "finance", certified_until: "2020-01-01" });
    // Control: a certified finance agent may refund 10 EUR.
    expect((await decideAs(certified, refund())).decision).toBe("allow");

    const denied = await decideAs(lapsed, refund());
    expect(denied.decision).toBe("deny");
    expect(rules(denied)).toContain("agent_not_certified");
    expect(denied.risk.tier).toBe("high");
    const read = await decideAs(lapsed, readTicket());
    expect(read.decision).toBe("allow");
    expect(rules(read)).not.toContain("agent_not_certified");
  });

  it("narrowing a registration narrows the keys already issued: a key keeps only the scopes the registration still grants", async () => {
    const tenant = newTenant("narrowed");
    const agent = uniqueId("narrowed");
    await register({ tenant, agent, role: "support", scopes: ["kb:read", "payments:write"] });
    const { key } = await issueKey(tenant, agent, { scopes: ["kb:read", "payments:write"] });
    expect((await decideAs(key, readTicket())).identity.scopes).toEqual(["kb:read", "payments:write"]);
    await register({ tenant, agent, role: "support", scopes: ["kb:read"] });
    // The edge's copy of the registry is the one this isolate just changed (it re-reads it after a change).
    const after = await decideAs(key, readTicket());
    expect(after.identity.scopes).toEqual(["kb:read"]);
    // Nor can the dropped scope be handed to a sub-agent.
    const spawn = await decideAs(key, { session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: uniqueId("child"), role: "support", scopes: ["payments:write"] } } });
    expect(spawn.decision).toBe("deny");
    expect(rules(spawn)).toContain("scope_escalation");
  });

  it("an agent registered for medium at most is denied a high-tier action (agent_tier_exceeded)", async () => {
    const tenant = newTenant("maxtier");
    const key = await agentKey({ tenant, agent: uniqueId("medium"), role: "finance", max_risk_tier: "medium" });
    const denied = await decideAs(key, refund());
    expect(denied.decision).toBe("deny");
    expect(rules(denied)).toContain("agent_tier_exceeded");
    expect((await decideAs(key, readTicket())).decision).toBe("allow");
  });

  it("an agent registered at risk tier high has its low-tier actions judged at high", async () => {
    const tenant = newTenant("floor");
    const high = await agentKey({ tenant, agent: uniqueId("high"), role: "finance", risk_tier: "high" });
    const low = await agentKey({ tenant, agent: uniqueId("low"), role: "finance" });
    const judgedHigh = await decideAs(high, readTicket());
    expect(judgedHigh.risk).toMatchObject({ tier: "high", source: "agent_registration" });
    expect(judgedHigh.identity.registration).toMatchObject({ risk_tier: "high" });
    // The same action by an agent registered at low stays low.
    expect((await decideAs(low, readTicket())).risk.tier).toBe("low");
    // A caller cannot declare it lower than its registration.
    expect((await decideAs(high, { ...readTicket(), risk_tier: "low" })).risk).toMatchObject({ tier: "high", source: "agent_registration" });
  });
});

describe("RefreshingCache: how old a registry copy an isolate may serve", () => {
  const REFRESH = 600_000;
  const MAX_STALE = 3 * REFRESH;

  interface Versioned {
    version: number;
    revoked: string[];
  }

  /** A registry as the Durable Object holds it, and an isolate's cache in front of it. */
  function harness(options: { maxEntries?: number; timeoutMs?: number } = {}) {
    const source = { value: { version: 1, revoked: [] } as Versioned, failing: false, hanging: false, loads: [] as string[] };
    const load = async (key: string): Promise<Versioned> => {
      source.loads.push(key);
      if (source.hanging) return new Promise<Versioned>(() => {});
      if (source.failing) throw new Error("the registry cannot be reached");
      return structuredClone(source.value);
    };
    const cache = new RefreshingCache<Versioned>(load, { refreshMs: REFRESH, maxStaleMs: MAX_STALE, timeoutMs: options.timeoutMs ?? 1_000, maxEntries: options.maxEntries ?? 100, version: (v) => v.version });
    const pending: Array<Promise<unknown>> = [];
    const background = (work: Promise<unknown>) => void pending.push(work);
    const settle = async () => void (await Promise.all(pending.splice(0)));
    return { source, cache, background, pending, settle };
  }

  it("serves its copy as is under half the interval, refreshes it in the background between half and one interval, and before serving past it", async () => {
    const { source, cache, background, pending, settle } = harness();
    const [first, second] = await Promise.all([cache.get("t", Date.now(), background), cache.get("t", Date.now(), background)]);
    const t0 = Date.now();
    expect(first.version).toBe(1);
    expect(second.version).toBe(1);
    expect(source.loads).toHaveLength(1); // one load for both: single flight

    source.value = { version: 2, revoked: ["k1"] };
    expect((await cache.get("t", t0 + 0.45 * REFRESH, background)).version).toBe(1);
    expect(source.loads).toHaveLength(1);
    expect(pending).toHaveLength(0);

    // Between half and one interval: the copy held is served, and a refresh starts behind it.
    expect((await cache.get("t", t0 + 0.75 * REFRESH, background)).version).toBe(1);
    expect(pending).toHaveLength(1);
    await settle();
    expect(source.loads).toHaveLength(2);
    expect((await cache.get("t", Date.now() + 0.1 * REFRESH, background)).version).toBe(2);

    // Past the interval: the refresh happens before anything is served.
    source.value = { version: 3, revoked: ["k1", "k2"] };
    const t1 = Date.now();
    expect((await cache.get("t", t1 + REFRESH + 1, background)).version).toBe(3);
    expect(source.loads).toHaveLength(3);
    expect(pending).toHaveLength(0);
  });

  it("a revocation made through one isolate reaches another isolate's copy within one refresh interval", async () => {
    const registry = { value: { version: 1, revoked: [] } as Versioned };
    const isolate = () =>
      new RefreshingCache<Versioned>(async () => structuredClone(registry.value), { refreshMs: REFRESH, maxStaleMs: MAX_STALE, timeoutMs: 1_000, maxEntries: 10, version: (v) => v.version });
    const [admin, other] = [isolate(), isolate()];
    const background = () => {};
    await admin.get("acme", Date.now(), background);
    await other.get("acme", Date.now(), background);
    const t0 = Date.now();

    registry.value = { version: 2, revoked: ["k1"] };
    admin.invalidate("acme"); // what the admin route does in the isolate that made the change
    expect((await admin.get("acme", t0, background)).revoked).toEqual(["k1"]);
    // The other isolate may still hold the old copy, but only within the interval.
    expect((await other.get("acme", t0 + 0.4 * REFRESH, background)).revoked).toEqual([]);
    expect((await other.get("acme", t0 + REFRESH, background)).revoked).toEqual(["k1"]);
  });

  it("serves the old copy while the source fails only until maxStaleMs, then throws SourceUnavailable; recovers when the source does", async () => {
    const { source, cache, background } = harness();
    await cache.get("t", Date.now(), background);
    const t0 = Date.now();
    source.failing = true;
    expect((await cache.get("t", t0 + REFRESH + 1, background)).version).toBe(1);
    expect((await cache.get("t", t0 + MAX_STALE - 1_000, background)).version).toBe(1);
    await expect(cache.get("t", t0 + MAX_STALE + 1, background)).rejects.toBeInstanceOf(SourceUnavailable);
    // With nothing cached at all, a failing source is unavailable at once.
    await expect(cache.get("never-loaded", t0, background)).rejects.toBeInstanceOf(SourceUnavailable);

    source.failing = false;
    source.value = { version: 2, revoked: ["k1"] };
    expect((await cache.get("t", t0 + MAX_STALE + 1, background)).version).toBe(2);
  });

  it("a source that does not answer within the timeout counts as failing", async () => {
    const { source, cache, background } = harness({ timeoutMs: 50 });
    expect((await cache.get("slow", Date.now(), background)).version).toBe(1);
    const t0 = Date.now();
    source.hanging = true;
    expect((await cache.get("slow", t0 + REFRESH + 1, background)).version).toBe(1);
    await expect(cache.get("slow", t0 + MAX_STALE + 1, background)).rejects.toBeInstanceOf(SourceUnavailable);
    await expect(cache.get("hung-from-start", t0, background)).rejects.toThrow(/no answer within 50 ms/);
  });

  it("a background load that returns an older version does not replace the newer copy", async () => {
    const { source, cache, background, settle } = harness();
    source.value = { version: 5, revoked: ["k1", "k2"] };
    await cache.get("t", Date.now(), background);
    const t0 = Date.now();
    source.value = { version: 4, revoked: ["k1"] };
    expect((await cache.get("t", t0 + 0.75 * REFRESH, background)).version).toBe(5);
    await settle();
    expect(source.loads).toHaveLength(2);
    expect((await cache.get("t", t0 + 0.8 * REFRESH, background)).revoked).toEqual(["k1", "k2"]);
    await settle();
    // When the source fails, the copy served is still the newest ever seen.
    source.failing = true;
    expect((await cache.get("t", t0 + REFRESH + 1, background)).version).toBe(5);
  });

  it("a get past the interval whose load returns an older version answers with the newer copy it holds", async () => {
    const { source, cache, background } = harness();
    source.value = { version: 5, revoked: ["k1", "k2"] };
    await cache.get("t", Date.now(), background);
    const t0 = Date.now();
    source.value = { version: 4, revoked: ["k1"] };
    const served = await cache.get("t", t0 + REFRESH + 1, background);
    expect(source.loads).toHaveLength(2);
    // k2's revocation must not be undone for this request.
    expect(served).toMatchObject({ version: 5, revoked: ["k1", "k2"] });
  });

  it("holds a bounded number of entries, evicting the least recently used, even for keys whose loads fail", async () => {
    const { source, cache, background } = harness({ maxEntries: 3 });
    const entries = () => (cache as unknown as { entries: Map<string, unknown> }).entries;
    for (const key of ["a", "b", "c", "d"]) await cache.get(key, Date.now(), background);
    expect(source.loads).toEqual(["a", "b", "c", "d"]);
    expect(entries().size).toBe(3);
    await cache.get("b", Date.now(), background); // b is used again: c is now the least recent
    await cache.get("e", Date.now(), background);
    expect([...entries().keys()].sort()).toEqual(["b", "d", "e"]);
    source.loads.length = 0;
    for (const key of ["b", "d", "e"]) await cache.get(key, Date.now(), background);
    expect(source.loads).toEqual([]);
    await cache.get("a", Date.now(), background);
    expect(source.loads).toEqual(["a"]);

    // A caller cycling through made-up keys costs no more than the bound.
    source.failing = true;
    for (let i = 0; i < 500; i++) await expect(cache.get(`made-up-${i}`, Date.now(), background)).rejects.toBeInstanceOf(SourceUnavailable);
    expect(entries().size).toBe(3);
  });
});

/**
 * What an attacker tried against the decision API before identity was the
 * edge's to establish, each repeated and shown refused: a caller choosing
 * its own risk tier or role, acting under another tenant's or agent's name
 * to trip their breakers, forging or borrowing credentials, and bodies built
 * to overflow a stack somewhere in the pipeline.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { chainFor, type AuditMessage } from "../../src/audit/writer";
import { registryObject } from "../../src/identity/registry-cache";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, agentFetch, decide, decideRaw, uniqueId } from "../session/helpers";
import { agentKey } from "./credentials";

const rules = (body: { reasons: Array<{ rule: string }> }) => body.reasons.map((r) => r.rule);
const as = (key: string) => ({ authorization: `Bearer ${key}` });

const MALLORY = { tenant: "mallory-co", agent: "mallory", role: "finance" };
const VICTIM = { tenant: "acme", agent: "agent-7", role: "finance" };

function refund(session: string, amount: number, extra: Record<string, unknown> = {}) {
  return { session: { id: session }, action: { type: "tool_call", tool: "payments.refund", args: { amount, currency: "EUR" } }, ...extra };
}

async function counters(): Promise<Record<string, number>> {
  return (await (await admin("/audit/status", TEST_TOKENS.operator)).json<{ counters: Record<string, number> }>()).counters;
}

describe("the caller cannot choose how it is judged", () => {
  it("a refund of 900 declared low is judged high: it needs approval, fails closed and trips at the high tier's threshold", async () => {
    const key = await agentKey(VICTIM);
    const answer = await decide(refund(uniqueId("low"), 900, { risk_tier: "low" }), as(key));
    expect(answer.decision).toBe("require_approval");
    expect(answer.risk).toEqual({ tier: "high", declared: "low", source: "tool:payments.refund" });
    expect(answer).toMatchObject({ fail_mode: "closed", breaker: { threshold: 3 } });
  });

  it("a shell command declared low is critical, and its record is acknowledged before the answer", async () => {
    const key = await agentKey({ tenant: "acme", agent: "eng-1", role: "engineer" });
    const answer = await decide({ risk_tier: "low", session: { id: uniqueId("sh") }, action: { type: "tool_call", tool: "shell.exec", args: { command: "ls" } } }, as(key));
    expect(answer.risk).toMatchObject({ tier: "critical", source: "tool:shell.exec" });
    expect(answer.audit).toBe("acknowledged");
  });

  it("\"role\": \"admin\" in the body is refused; the credential's role is what the policy sees", async () => {
    const key = await agentKey({ tenant: "acme", agent: "support-1", role: "support" });
    const body = { session: { id: uniqueId("role") }, action: { type: "tool_call", tool: "shell.exec", args: { command: "id" } } };
    const claimed = await decideRaw({ ...body, agent: { role: "admin" } }, as(key));
    expect(claimed.status).toBe(403);
    expect(await claimed.json()).toMatchObject({ error: { code: "identity_mismatch" } });
    const asItself = await decide(body, as(key));
    expect(asItself.decision).toBe("deny");
    expect(rules(asItself)).toContain("tool_not_allowed_for_role");
  });
});

describe("the caller cannot pass for the MCP gateway", () => {
  it("action.mcp, which the gateway sets on what it decided, is refused in a body: no rule or auditor can take a caller's word for it", async () => {
    const key = await agentKey({ tenant: "acme", agent: "support-mcp", role: "support" });
    const action = { type: "tool_call", tool: "email.send", args: { to: "x@example.test" }, mcp: { server: "helpdesk", answer: true } };
    const posed = await decideRaw({ session: { id: uniqueId("mcp") }, action }, as(key));
    expect(posed.status).toBe(400);
    expect(await posed.json()).toMatchObject({ error: { code: "invalid_input", path: "action.mcp" } });
    const { mcp: _mcp, ...plain } = action;
    expect((await decide({ session: { id: uniqueId("mcp") }, action: plain }, as(key))).decision).toBe("allow");
  });
});

describe("no one acts under another's name", () => {
  it("violations sent under another tenant's session id cannot open that session's breaker", async () => {
    const victimSession = uniqueId("victim");
    const mallory = await agentKey(MALLORY);
    const asVictim = await decideRaw({ ...refund(victimSession, 99_999), tenant: "acme" }, as(mallory));
    expect(asVictim.status).toBe(403);
    expect(await asVictim.json()).toMatchObject({ error: { code: "identity_mismatch" } });
    // Under its own tenant the same session id is Mallory's own session: three denials open that one only.
    for (let i = 0; i < 3; i++) expect((await decide(refund(victimSession, 99_999), as(mallory))).decision).toBe("deny");
    expect((await decide(refund(victimSession, 10), as(mallory))).session.breaker).toBe("open");
    const victim = await decide(refund(victimSession, 120), as(await agentKey(VICTIM)));
    expect(victim.decision).toBe("allow");
    expect(victim.session.breaker).toBe("closed");
  });

  it("purchase orders sent under another agent's id are refused, and the agent-wide limit counts each agent's own", async () => {
    const mallory = await agentKey({ tenant: "acme", agent: uniqueId("mallory"), role: "finance" });
    const victim = uniqueId("buyer");
    const po = (i: number) => ({ session: { id: uniqueId("po") }, action: { type: "tool_call", tool: "purchasing.create_po", args: { amount: 10 + i, supplier: "paper" } } });
    const named = await decideRaw({ ...po(0), agent: { id: victim } }, as(mallory));
    expect(named.status).toBe(403);
    const own = await decide(po(1), as(mallory));
    expect(own.decision).toBe("allow");
    const view = await (await admin(`/agents/acme/${victim}/breakers`, TEST_TOKENS.acmeOperator)).json<{ open: unknown[] }>();
    expect(view.open).toEqual([]);
  });

  it("no credential is 401 with a challenge, a bad one 401, another tenant's 403", async () => {
    const body = refund(uniqueId("creds"), 10);
    const none = await decideRaw(body, { authorization: "" });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="tollgate"');
    expect(await none.json()).toMatchObject({ error: { code: "unauthenticated" } });
    const key = await agentKey(VICTIM);
    const [prefix, tenant, keyId, secret] = [key.slice(0, 3), "acme", key.split("_")[2], key.slice(key.indexOf("_", 9 + key.split("_")[2].length) + 1)];
    const wrongSecret = `${prefix}_${tenant}_${keyId}_${"A".repeat(43)}`;
    const otherTenant = `${prefix}_mallory-co_${keyId}_${secret}`;
    for (const bad of [wrongSecret, otherTenant, "tgk_acme_nope", "Basic dXNlcjpwYXNz", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "x".repeat(20_000)]) {
      const refused = await decideRaw(body, { authorization: bad.startsWith("Basic") ? bad : `Bearer ${bad}` });
      expect(refused.status, bad.slice(0, 40)).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain('realm="tollgate"');
    }
    const crossTenant = await decideRaw({ ...body, tenant: "initech" }, as(key));
    expect(crossTenant.status).toBe(403);
  });

  it("an approval can be waited on only by the agent it was asked for; another tenant's is 403", async () => {
    const asked = await decide(refund(uniqueId("apr"), 900), as(await agentKey(VICTIM)));
    const id = asked.session.approval.id as string;
    expect((await agentFetch(`/v1/approvals/${id}`)).status).toBe(200);
    expect((await agentFetch(`/v1/approvals/${id}`, {}, MALLORY)).status).toBe(403);
    expect((await agentFetch(`/v1/approvals/${id}`, {}, { tenant: "acme", agent: "someone-else", role: "finance" })).status).toBe(404);
    expect((await agentFetch(`/v1/approvals/${id}`, { headers: { authorization: "" } })).status).toBe(401);
  });
});

describe("bounded input, isolated damage", () => {
  it("arguments nested 4,200 arrays deep get a 400 that says where, not a 500", async () => {
    const deep = `${"[".repeat(4200)}${"]".repeat(4200)}`;
    const response = await decideRaw(JSON.parse(`{"session":{"id":"deep"},"action":{"type":"tool_call","tool":"tickets.read","args":{"x":${deep}}}}`));
    expect(response.status).toBe(400);
    const { error } = await response.json<{ error: { code: string; path: string } }>();
    expect(error.code).toBe("invalid_input");
    expect(error.path.startsWith("action.args.x.0.0")).toBe(true);
    const shallow = await decide({ session: { id: uniqueId("ok") }, action: { type: "tool_call", tool: "tickets.read", args: { x: JSON.parse(`${"[".repeat(25)}${"]".repeat(25)}`) } } });
    expect(shallow.decision).toBe("allow");
  });

  it("too many items, too many keys and too long a string are each refused with their path", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ list: Array.from({ length: 1001 }, () => 0) }, "action.args.list"],
      [{ wide: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, 0])) }, "action.args.wide"],
      [{ text: "y".repeat(33 * 1024) }, "action.args.text"],
    ];
    for (const [args, path] of cases) {
      const response = await decideRaw({ session: { id: "big" }, action: { type: "tool_call", tool: "tickets.read", args } });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_input", path } });
    }
  });

  it("a record too deep to hash is counted as lost and costs its batch-mates nothing", async () => {
    const tenant = uniqueId("isolated").replace(/[^a-z0-9-]/g, "-");
    const record = (id: string, args: unknown = {}) => ({ kind: "decision", decision_id: id, time: new Date().toISOString(), tenant, agent: "a", session: "s", rules: [], args });
    const deep = JSON.parse(`${"[".repeat(5000)}${"]".repeat(5000)}`);
    const body: AuditMessage = [record(`${tenant}-1`), record(`${tenant}-2`, deep), record(`${tenant}-3`)].map((r) => JSON.stringify(r)).join("\n");
    const before = (await counters()).records_lost ?? 0;
    const batch = createMessageBatch<AuditMessage>("tollgate-audit", [{ id: "m-deep", timestamp: new Date(), attempts: 1, body }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["m-deep"]);
    const chained = (await chainFor(env, tenant).query({})).records.map((r) => r.decision_id);
    expect(chained).toEqual([`${tenant}-1`, `${tenant}-3`]);
    expect(((await counters()).records_lost ?? 0) - before).toBe(1);
  });

  it("a credential naming a tenant nobody registered is refused and leaves no object storage behind", async () => {
    const tenant = `made-up-${crypto.randomUUID().slice(0, 8)}`;
    const refused = await decideRaw({ session: { id: "s" }, action: { type: "tool_call", tool: "tickets.read", args: {} } }, { authorization: `Bearer tgk_${tenant}_k0123456789abcdef_${"A".repeat(43)}` });
    expect(refused.status).toBe(401);
    const tables = await runInDurableObject(registryObject(env, tenant), (_instance, state) => state.storage.sql.exec("SELECT name FROM sqlite_master").toArray());
    expect(tables).toEqual([]);
    // A registry comes into being with its first registration, and then serves as before.
    const key = await agentKey({ tenant, agent: "first-agent", role: "support" });
    expect((await decideRaw({ session: { id: "s" }, action: { type: "tool_call", tool: "tickets.read", args: {} } }, { authorization: `Bearer ${key}` })).status).toBe(200);
  });
});

/**
 * Sub-agents act on credentials the edge minted when their spawn was
 * allowed: bound to the parent's tenant and session, with the scopes they
 * were granted and their depth. What a sub-agent claims in its body is
 * checked against that credential, and the parent's session record is
 * checked again by the child's session (defence in depth).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { agentObject } from "../../src/session/objects";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentKey, delegatedCredential, register, registryAdmin } from "../identity/credentials";
import { agentFetch, decide, decideRaw, sessionStub, uniqueId } from "./helpers";

const LEAD = { tenant: "acme", agent: "lead-agent", role: "support", scopes: ["tickets:read", "kb:read"] };

function spawnInput(session: string, child: string, scopes: string[]) {
  return { session: { id: session }, action: { type: "spawn_agent", spawn: { agent_id: child, role: "triage", scopes } } };
}

function searchInput(session: string, extra: Record<string, unknown> = {}) {
  return { session: { id: session }, action: { type: "tool_call", tool: "kb.search", args: { q: "refund policy" } }, ...extra };
}

const rules = (body: { reasons: Array<{ rule: string }> }) => body.reasons.map((r) => r.rule);
const as = (token: string) => ({ authorization: `Bearer ${token}` });

async function spawn(session: string, child: string, scopes: string[], credential: string) {
  return decide(spawnInput(session, child, scopes), as(credential));
}

describe("delegation", () => {
  it("an allowed spawn returns a credential the child acts on, within the scopes and depth it was given", async () => {
    const leadKey = await agentKey(LEAD);
    const parent = uniqueId("parent");
    const child = uniqueId("child");
    const spawned = await spawn(parent, child, ["kb:read"], leadKey);
    expect(spawned.decision).toBe("allow");
    const credential = spawned.delegated_credential;
    // The child's id is the edge's: its parent's, "!", and the name the spawn gave it.
    expect(credential).toMatchObject({ agent: `lead-agent!${child}`, role: "triage", scopes: ["kb:read"], depth: 1, parent_session: parent });
    expect(Date.parse(credential.expires_at)).toBeLessThanOrEqual(Date.now() + 900_000 + 1000);

    const acting = await decide(searchInput(uniqueId("c1")), as(credential.token));
    expect(acting.decision).toBe("allow");
    expect(acting.identity).toMatchObject({ tenant: "acme", agent: `lead-agent!${child}`, role: "triage", credential: { kind: "delegated" } });
    // Nor may the child claim the bare name it was given.
    const asName = await decideRaw(searchInput(uniqueId("c0"), { agent: { id: child } }), as(credential.token));
    expect(asName.status).toBe(403);

    // Claims beyond the credential are refused before any policy runs.
    const widened = await decideRaw(searchInput(uniqueId("c2"), { agent: { scopes: ["kb:read", "tickets:read"] } }), as(credential.token));
    expect(widened.status).toBe(403);
    expect(await widened.json()).toMatchObject({ error: { code: "identity_mismatch" } });
    const shallower = await decideRaw(searchInput(uniqueId("c3"), { agent: { delegation_depth: 0 } }), as(credential.token));
    expect(shallower.status).toBe(403);
    const elsewhere = await decideRaw({ ...searchInput(uniqueId("c4")), session: { id: uniqueId("c4"), parent_session_id: "another" } }, as(credential.token));
    expect(elsewhere.status).toBe(403);
    const asAnother = await decideRaw(searchInput(uniqueId("c5"), { agent: { id: "lead-agent" } }), as(credential.token));
    expect(asAnother.status).toBe(403);
  });

  it("a credential that was not minted by the edge, or was altered, is refused", async () => {
    const leadKey = await agentKey(LEAD);
    const spawned = await spawn(uniqueId("parent"), uniqueId("child"), ["kb:read"], leadKey);
    const token = spawned.delegated_credential.token as string;
    const [header, payload, signature] = token.split(".");
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const forged = btoa(JSON.stringify({ ...claims, scopes: ["kb:read", "tickets:read", "payments:write"] })).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    for (const bad of [`${header}.${forged}.${signature}`, `${header}.${payload}.${signature.slice(0, -4)}AAAA`, `${header}.${payload}.`]) {
      const refused = await decideRaw(searchInput(uniqueId("x")), as(bad));
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain("invalid_token");
    }
  });

  it("a chain of spawns stops at the maximum depth, each child holding what the edge signed", async () => {
    const scopes = ["kb:read"];
    let credential = await agentKey({ ...LEAD, agent: uniqueId("root") });
    const depths: number[] = [];
    for (let depth = 1; depth <= 3; depth++) {
      const spawned = await spawn(uniqueId(`depth${depth}`), uniqueId(`agent${depth}`), scopes, credential);
      expect(spawned.decision).toBe("allow");
      depths.push(spawned.delegated_credential.depth);
      credential = spawned.delegated_credential.token;
    }
    expect(depths).toEqual([1, 2, 3]);
    const tooDeep = await spawn(uniqueId("depth4"), uniqueId("agent4"), scopes, credential);
    expect(tooDeep.decision).toBe("deny");
    expect(rules(tooDeep)).toContain("delegation_depth_exceeded");
    expect(tooDeep.delegated_credential).toBeUndefined();
  });

  it("a parent cannot hand on a scope it was never granted", async () => {
    const leadKey = await agentKey(LEAD);
    const escalation = await spawn(uniqueId("parent"), uniqueId("child"), ["kb:read", "payments:write"], leadKey);
    expect(escalation.decision).toBe("deny");
    expect(rules(escalation)).toContain("scope_escalation");
    expect(escalation.delegated_credential).toBeUndefined();
    // Nor claim it in its body first.
    const widened = await decideRaw({ ...spawnInput(uniqueId("parent"), uniqueId("child"), ["payments:write"]), agent: { scopes: ["payments:write"] } }, as(leadKey));
    expect(widened.status).toBe(403);
  });

  it("an agent key cannot claim to be a sub-agent", async () => {
    const leadKey = await agentKey(LEAD);
    const claimsDepth = await decideRaw(searchInput(uniqueId("orphan"), { agent: { delegation_depth: 2 } }), as(leadKey));
    expect(claimsDepth.status).toBe(403);
    const claimsParent = await decideRaw({ ...searchInput("x"), session: { id: uniqueId("orphan"), parent_session_id: "someone" } }, as(leadKey));
    expect(claimsParent.status).toBe(403);
    expect(await claimsParent.json()).toMatchObject({ error: { code: "identity_mismatch" } });
  });

  it("revoking the agent key at the root of a delegation tree cuts off every descendant", async () => {
    const root = uniqueId("revoked-root");
    const rootKey = await agentKey({ ...LEAD, agent: root });
    const child = (await spawn(uniqueId("p"), uniqueId("c"), ["kb:read"], rootKey)).delegated_credential.token as string;
    const grandchild = (await spawn(uniqueId("q"), uniqueId("g"), ["kb:read"], child)).delegated_credential.token as string;
    expect((await decide(searchInput(uniqueId("before")), as(grandchild))).decision).toBe("allow");
    const keyId = /^tgk_acme_(k[0-9a-f]{16})_/.exec(rootKey)![1];
    expect((await registryAdmin(`/acme/keys/${keyId}`, { method: "DELETE" }, TEST_TOKENS.acmeRegistrar)).status).toBe(200);
    for (const token of [rootKey, child, grandchild]) {
      expect((await decideRaw(searchInput(uniqueId("after")), as(token))).status).toBe(401);
    }
  });

  it("a spawn cannot take another agent's identity: a child named like a registered agent acts as its parent's child, on its own state", async () => {
    const victim = uniqueId("victim");
    const victimKey = await agentKey({ tenant: "acme", agent: victim, role: "finance" });
    const victimSession = uniqueId("victim-session");
    expect((await decide({ session: { id: victimSession }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } }, as(victimKey))).decision).toBe("allow");

    const attacker = uniqueId("attacker");
    const attackerKey = await agentKey({ tenant: "acme", agent: attacker, role: "finance" });
    const spawned = await decide({ session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: victim, role: "finance", scopes: [] } } }, as(attackerKey));
    expect(spawned.decision).toBe("allow");
    expect(spawned.delegated_credential.agent).toBe(`${attacker}!${victim}`);
    const child = spawned.delegated_credential.token as string;
    expect((await decide(searchInput(uniqueId("c")), as(child))).identity.agent).toBe(`${attacker}!${victim}`);
    // The victim's session is out of its reach: a lease "on it" lands in the child's own session of that id.
    const leased = await agentFetch("/v1/leases", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${child}` }, body: JSON.stringify({ session: victimSession }) });
    expect(leased.status).toBe(201);
    expect((await sessionStub(victimSession, victim).view()).leases).toHaveLength(0);
    expect((await sessionStub(victimSession, `${attacker}!${victim}`).view()).leases).toHaveLength(1);

    // A name that is not a registered agent's id (it holds the separator) is refused before any policy runs.
    const nested = await decideRaw({ session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: `x!${victim}`, role: "finance", scopes: [] } } }, as(attackerKey));
    expect(nested.status).toBe(400);
    expect(await nested.json()).toMatchObject({ error: { code: "invalid_input", path: "action.spawn.agent_id" } });
  });

  it("a child counts against the agent-wide limit of the registered agent its tree descends from: spawning never resets it", async () => {
    const buyer = uniqueId("buyer");
    const buyerKey = await agentKey({ tenant: "acme", agent: buyer, role: "finance" });
    const order = () => ({ session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "purchasing.create_po", args: { amount: 500, vendor: "v-1" } } });
    expect((await decide(order(), as(buyerKey))).decision).toBe("allow");
    const spawned = await decide({ session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: "orders", role: "finance", scopes: [] } } }, as(buyerKey));
    const child = spawned.delegated_credential.token as string;
    expect((await decide(order(), as(child))).decision).toBe("allow");
    // With 198 more at the registered agent, the child's next order is the 201st only if the child's
    // first was counted there too: it is refused, and the breaker it opens stops the parent as well.
    for (let i = 0; i < 198; i++) await agentObject(env, "acme", buyer).count({ key: "purchasing.create_po", max: 200, window_s: 3600 }, uniqueId("fill"), Date.now());
    const over = await decide(order(), as(child));
    expect(over.decision).toBe("deny");
    expect(rules(over)).toContain("agent_rate_exceeded");
    const parentNow = await decide(order(), as(buyerKey));
    expect(rules(parentNow)).toContain("agent_circuit_open");
  });

  it("one Idempotency-Key reused in another session is another order, counted again", async () => {
    const buyer = uniqueId("keyed-buyer");
    const buyerKey = await agentKey({ tenant: "acme", agent: buyer, role: "finance" });
    const order = (session: string) => ({ session: { id: session }, action: { type: "tool_call", tool: "purchasing.create_po", args: { amount: 500, vendor: "v-1" } } });
    for (let i = 0; i < 199; i++) await agentObject(env, "acme", buyer).count({ key: "purchasing.create_po", max: 200, window_s: 3600 }, uniqueId("fill"), Date.now());
    const headers = { ...as(buyerKey), "idempotency-key": "po-1" };
    expect((await decide(order(uniqueId("s1")), headers)).decision).toBe("allow");
    const second = await decide(order(uniqueId("s2")), headers);
    expect(second.decision).toBe("deny");
    expect(rules(second)).toContain("agent_rate_exceeded");
  });

  it("a sub-agent may use no tool its parent's role may not (role_escalation)", async () => {
    const supportKey = await agentKey({ tenant: "acme", agent: uniqueId("support"), role: "support" });
    for (const role of ["engineer", "researcher"]) {
      const spawned = await decide({ session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: uniqueId("c"), role, scopes: [] } } }, as(supportKey));
      expect(spawned.decision).toBe("deny");
      expect(rules(spawned)).toContain("role_escalation");
      expect(spawned.delegated_credential).toBeUndefined();
    }
  });

  const email = (s: string) => ({ session: { id: s }, action: { type: "tool_call", tool: "email.send", args: { to: "out@example.test" } } });

  /** An agent of its own whose session has read PII: its key, its session and its name. */
  async function taintedParent() {
    const spec = { tenant: "acme", agent: uniqueId("tainted"), role: "support" };
    const parentKey = await agentKey(spec);
    const session = uniqueId("tainted-session");
    const reported = await agentFetch(`/v1/sessions/${session}/data-classes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ data_classes: ["pii"] }) }, spec);
    expect(reported.status).toBe(200);
    return { spec, parentKey, session };
  }

  it("a child's session starts holding its parent's session's taint: its external calls need approval too", async () => {
    const { spec, parentKey, session } = await taintedParent();
    expect((await decide(email(session), as(parentKey))).decision).toBe("require_approval");
    const spawned = await decide({ session: { id: session }, action: { type: "spawn_agent", spawn: { agent_id: "mailer", role: "support", scopes: [] } } }, as(parentKey));
    expect(spawned.decision).toBe("allow");
    const childSession = uniqueId("child-session");
    const child = await decide(email(childSession), as(spawned.delegated_credential.token));
    expect(child.decision).toBe("require_approval");
    expect(rules(child)).toContain("session_data_to_external_tool");
    expect((await sessionStub(childSession, `${spec.agent}!mailer`).view()).data_classes).toContain("pii");
  });

  it("narrowing the root agent's registration narrows a sub-agent spawned before: a dropped scope is gone and cannot be handed on", async () => {
    const tenant = `deleg-${crypto.randomUUID().slice(0, 8)}`;
    const name = uniqueId("narrow");
    const child = await delegatedCredential({ tenant, agent: name, role: "support", scopes: ["kb:read", "payments:write"] }, 1);
    const read = () => ({ agent: { id: child.agent }, session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } });
    expect((await decide(read(), as(child.token))).identity.scopes).toEqual(["kb:read", "payments:write"]);
    await register({ tenant, agent: `${name}.root`, role: "support", scopes: ["kb:read"] });
    expect((await decide(read(), as(child.token))).identity.scopes).toEqual(["kb:read"]);
    const handedOn = await decide({ agent: { id: child.agent }, session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: "grandchild", role: "support", scopes: ["payments:write"] } } }, as(child.token));
    expect(handedOn.decision).toBe("deny");
    expect(handedOn.delegated_credential).toBeUndefined();
  });

  it("registering the root agent for another role cuts off the sub-agents it spawned before", async () => {
    const tenant = `deleg-${crypto.randomUUID().slice(0, 8)}`;
    const name = uniqueId("demote");
    const child = await delegatedCredential({ tenant, agent: name, role: "engineer", scopes: [] }, 2);
    const read = () => ({ agent: { id: child.agent }, session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } });
    expect((await decide(read(), as(child.token))).identity.role).toBe("engineer");
    await register({ tenant, agent: `${name}.root`, role: "support", scopes: [] });
    const refused = await decideRaw(read(), as(child.token));
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "invalid_credential", message: expect.stringContaining("is now registered as support") } });
  });

  it("a child that fills its session with made-up classes before its first decision still starts holding its parent's", async () => {
    const { spec, parentKey, session } = await taintedParent();
    const spawned = await decide({ session: { id: session }, action: { type: "spawn_agent", spawn: { agent_id: "mailer", role: "support", scopes: [] } } }, as(parentKey));
    expect(spawned.decision).toBe("allow");
    const childToken = spawned.delegated_credential.token as string;
    // The parent read the PII longer ago than the agent-wide window (an hour): its session keeps the class
    // for good, the agent's object no longer counts it, so only the child's own session can say.
    await runInDurableObject(agentObject(env, "acme", spec.agent), async (_instance, state) => {
      state.storage.sql.exec("UPDATE data_classes SET at_ms = ?", Date.now() - 2 * 3600 * 1000);
    });
    expect((await decide(email(session), as(parentKey))).decision).toBe("require_approval");
    // The child, before its first decision, fills its session to the cap (64) with made-up classes.
    const childSession = uniqueId("child-session");
    const junk = Array.from({ length: 64 }, (_, i) => `junk-${i}`);
    const filled = await agentFetch(`/v1/sessions/${childSession}/data-classes`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${childToken}` },
      body: JSON.stringify({ data_classes: junk }),
    });
    expect(filled.status).toBe(200);
    const child = await decide(email(childSession), as(childToken));
    expect(child.decision).toBe("require_approval");
    expect(rules(child)).toContain("session_data_to_external_tool");
    expect((await sessionStub(childSession, `${spec.agent}!mailer`).view()).data_classes).toContain("pii");
  });
});

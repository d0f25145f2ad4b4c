/**
 * Sub-agents act on credentials the edge minted when their spawn was
 * allowed: bound to the parent's tenant and session, with the scopes they
 * were granted and their depth. What a sub-agent claims in its body is
 * checked against that credential, and the parent's session record is
 * checked again by the child's session (defence in depth).
 */
import { describe, expect, it } from "vitest";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentKey, registryAdmin } from "../identity/credentials";
import { decide, decideRaw, uniqueId } from "./helpers";

const LEAD = { tenant: "acme", agent: "lead-agent", role: "support", scopes: ["tickets:read", "kb:read"] };

function spawnInput(session: string, child: string, scopes: string[]) {
  return { session: { id: session }, action: { type: "spawn_agent", spawn: { agent_id: child, role: "researcher", scopes } } };
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
    expect(credential).toMatchObject({ agent: child, role: "researcher", scopes: ["kb:read"], depth: 1, parent_session: parent });
    expect(Date.parse(credential.expires_at)).toBeLessThanOrEqual(Date.now() + 900_000 + 1000);

    const acting = await decide(searchInput(uniqueId("c1")), as(credential.token));
    expect(acting.decision).toBe("allow");
    expect(acting.identity).toMatchObject({ tenant: "acme", agent: child, role: "researcher", credential: { kind: "delegated" } });

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
});

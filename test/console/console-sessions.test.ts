/**
 * Sessions, breakers and the registry in the console: a breaker that three
 * denials opened is listed with why, reset by an operator (the session's
 * next action is judged by policy again, and the reset is recorded with who
 * made it); budgets show against their limits; an identity admin revokes a
 * key and the agent is refused at once. Another tenant's people, and roles
 * that may not, get 403; a malformed id is 400; an odd row in the index is
 * shown, not thrown.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { breakerIndex } from "../../src/session/objects";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentKey } from "../identity/credentials";
import { decide, decideRaw, fireAlarm, refundInput, sessionStub, uniqueId } from "../session/helpers";
import { signIn } from "./console-client";

async function trippedSession(): Promise<string> {
  const session = uniqueId("trip");
  for (let i = 0; i < 3; i++) expect((await decide(refundInput(session, 100_000))).decision).toBe("deny");
  const blocked = await decide(refundInput(session, 100));
  expect(blocked.reasons.map((r) => r.rule)).toContain("circuit_open");
  await fireAlarm(sessionStub(session, "agent-7"));
  return session;
}

describe("sessions and breakers in the console", () => {
  it("lists an open breaker with why, and an operator's reset lets the session act again", async () => {
    const session = await trippedSession();
    const operator = await signIn(TEST_TOKENS.acmeOperator);
    const list = await (await operator.get("/console/sessions/acme")).text();
    expect(list).toContain(`/console/sessions/acme/agent-7/${session}`);
    expect(list).toContain("3 denied actions within 300 s");
    const page = await (await operator.get(`/console/sessions/acme/agent-7/${session}`)).text();
    expect(page).toContain("badge open");

    const reset = await operator.post(`/console/sessions/acme/agent-7/${session}/breaker/reset`, {}, { from: `/console/sessions/acme/agent-7/${session}` });
    expect(reset.status).toBe(303);
    expect((await decide(refundInput(session, 100))).decision).toBe("allow");
    const after = await (await operator.get(`/console/sessions/acme/agent-7/${session}`)).text();
    expect(after).toContain("Reset before by acme-oncall");
    // The allowed refund was metered against the limits the policy named for the finance role.
    expect(after).toMatch(/api calls<\/th><td class="num">1<\/td><td class="num">200<\/td>/);
    await fireAlarm(sessionStub(session, "agent-7"));
    const listed = await (await operator.get("/console/sessions/acme")).text();
    expect(listed).not.toContain(`Reset ${session}`);
    expect(listed).toContain("Closed in the last 7 days");
  });

  it("another tenant's operator, an approver and an auditor cannot see or reset acme's breakers", async () => {
    const session = await trippedSession();
    for (const token of [TEST_TOKENS.initechEverything, TEST_TOKENS.acmeApprover, TEST_TOKENS.acmeAuditor]) {
      const browser = await signIn(token);
      expect((await browser.get("/console/sessions/acme")).status, token).toBe(403);
      expect((await browser.get(`/console/sessions/acme/agent-7/${session}`)).status, token).toBe(403);
      expect((await browser.post(`/console/sessions/acme/agent-7/${session}/breaker/reset`, {})).status, token).toBe(403);
      expect((await browser.post("/console/agent-breakers/acme/agent-7/reset", {})).status, token).toBe(403);
    }
    // Still open: nothing above reset it.
    expect((await decide(refundInput(session, 100))).reasons.map((r) => r.rule)).toContain("circuit_open");
    const operator = await signIn(TEST_TOKENS.acmeOperator);
    expect((await operator.get(`/console/sessions/acme/${"a".repeat(200)}/s`)).status).toBe(400);
    expect((await operator.get(`/console/sessions/acme/agent-7/${"s".repeat(300)}`)).status).toBe(400);
    expect((await operator.get("/console/sessions/acme?agent=bad%20agent&session=x")).status).toBe(400);
  });

  it("an odd row in the breaker index is shown as it is, not thrown", async () => {
    await runInDurableObject(breakerIndex(env, "acme"), async (_instance, state) => {
      state.storage.sql.exec("INSERT OR REPLACE INTO breakers (agent_id, session_id, state, opened_ms, reason, cooldown_s, version, updated_ms) VALUES ('ghost', '<script>x</script>', 'open', NULL, NULL, 0, 1, ?)", Date.now());
    });
    const operator = await signIn(TEST_TOKENS.acmeOperator);
    const page = await operator.get("/console/sessions/acme");
    expect(page.status).toBe(200);
    const text = await page.text();
    expect(text).toContain("&lt;script&gt;x&lt;/script&gt;");
    expect(text).not.toContain("<script>x</script>");
  });
});

describe("agents in the console", () => {
  it("shows owners, certification and keys; an identity admin revokes a key and the agent is refused at once", async () => {
    const agent = uniqueId("agent");
    const key = await agentKey({ tenant: "acme", agent, role: "finance", owner: "owner@acme.example", certified_until: "2026-12-01" });
    const auditor = await signIn(TEST_TOKENS.acmeAuditor);
    const seen = await (await auditor.get("/console/registry/acme")).text();
    expect(seen).toContain(agent);
    expect(seen).toContain("owner@acme.example");
    expect(seen).not.toContain(">Revoke<");
    const keyId = /^tgk_acme_(k[0-9a-f]{16})_/.exec(key)![1];
    expect((await auditor.post(`/console/registry/acme/keys/${keyId}/revoke`, {})).status).toBe(403);
    expect((await (await signIn(TEST_TOKENS.initechEverything)).get("/console/registry/acme")).status).toBe(403);

    const admin = await signIn(TEST_TOKENS.acmeRegistrar);
    expect(await (await admin.get("/console/registry/acme")).text()).toContain(`aria-label="Revoke key ${keyId} of ${agent}"`);
    expect((await admin.post("/console/registry/acme/keys/not-a-key/revoke", {})).status).toBe(400);
    const revoked = await admin.post(`/console/registry/acme/keys/${keyId}/revoke`, {}, { from: "/console/registry/acme" });
    expect(revoked.status).toBe(303);
    const refused = await decideRaw({ ...refundInput(uniqueId("s"), 10), agent: { id: agent, role: "finance" } }, { authorization: `Bearer ${key}` });
    expect(refused.status).toBe(401);
    const after = await (await admin.get("/console/registry/acme")).text();
    expect(after).toContain("revoked");
    expect(after).toContain("by acme-identity");
  });
});

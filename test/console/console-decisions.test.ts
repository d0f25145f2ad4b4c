/**
 * The decision log in the console: an auditor searches by outcome, agent,
 * session, rule and time, opens a decision and sees its reasons, the
 * layers' digests and versions, its receipt verified against the edge's
 * published keys, and its place in the hash chain with its segment
 * verified. Tampering with the segment in R2, with its digest or with the
 * receipt the record holds shows on the page as a finding, never a 500.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { digestKey, segmentKey } from "../../src/audit/chain";
import { chainFor } from "../../src/audit/writer";
import { TEST_TOKENS } from "../fixtures/test-config";
import { decide, refundInput, uniqueId } from "../session/helpers";
import { signIn } from "./console-client";

/** A denied and an approval-needing refund in a tenant of their own, appended before the answer (critical tier), then sealed. */
async function loggedDecisions(): Promise<{ tenant: string; denied: string; asked: string; session: string }> {
  const tenant = uniqueId("log").toLowerCase().replace(/[^a-z0-9-]/g, "-");
  const session = uniqueId("s");
  const input = (amount: number) => ({ ...refundInput(session, amount), tenant, risk_tier: "critical" });
  const denied = await decide(input(100_000));
  expect(denied.decision).toBe("deny");
  expect(denied.audit).toBe("acknowledged");
  const asked = await decide(input(900));
  expect(asked.audit).toBe("acknowledged");
  expect((await chainFor(env, tenant).sealPending()).unsealed).toBe(0);
  return { tenant, denied: denied.decision_id, asked: asked.decision_id, session };
}

describe("decisions in the console", () => {
  it("search finds a decision by outcome, agent, session, rule and time; its page shows reasons, layers, receipt and chain", async () => {
    const { tenant, denied, asked, session } = await loggedDecisions();
    const auditor = await signIn(TEST_TOKENS.operator);
    const all = await (await auditor.get(`/console/decisions/${tenant}`)).text();
    expect(all).toContain(denied);
    expect(all).toContain(asked);
    const deny = await (await auditor.get(`/console/decisions/${tenant}?outcome=deny&agent=agent-7&session=${session}&rule=refund_over_hard_cap`)).text();
    expect(deny).toContain(denied);
    expect(deny).not.toContain(asked);
    const future = await (await auditor.get(`/console/decisions/${tenant}?from=2099-01-01T00:00`)).text();
    expect(future).not.toContain(denied);
    expect(future).toContain("No decision matches");

    const page = await (await auditor.get(`/console/decisions/${tenant}/${denied}`)).text();
    expect(page).toContain("refund_over_hard_cap");
    expect(page).toMatch(/refund_over_hard_cap<\/code>: [^<]*hard cap/);
    expect(page).toMatch(/<td>global<\/td><td class="num">\d+<\/td><td><code>sha256:[0-9a-f]{64}<\/code>/);
    expect(page).toContain("The receipt verifies");
    expect(page).toContain("receipt-test");
    expect(page).toContain("Record</dt><dd>1 of 2");
    expect(page).toContain("Segment 1 verifies");
    expect(page).toContain("this decision is record 1, as the chain object holds it");
  });

  it("a segment edited in R2, a digest that is not JSON, a receipt altered in the record: findings on the page, not errors", async () => {
    const { tenant, denied, asked } = await loggedDecisions();
    const auditor = await signIn(TEST_TOKENS.operator);
    const stored = await (await env.AUDIT_LOG.get(segmentKey(tenant, 1)))!.text();
    await env.AUDIT_LOG.put(segmentKey(tenant, 1), stored.replace("refund_over_hard_cap", "refund_ok"));
    let page = await auditor.get(`/console/decisions/${tenant}/${denied}`);
    expect(page.status).toBe(200);
    let text = await page.text();
    expect(text).toContain("Segment 1 does not verify");
    expect(text).toContain("contents differ from its signed digest");
    expect(text).toContain("record 1 was modified");

    await env.AUDIT_LOG.put(digestKey(tenant, 1), "{not json");
    page = await auditor.get(`/console/decisions/${tenant}/${denied}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("missing or not a signed segment digest");

    await runInDurableObject(chainFor(env, tenant), async (_instance, state) => {
      const row = state.storage.sql.exec<{ record: string }>("SELECT record FROM entries WHERE decision_id = ?", asked).one();
      const record = JSON.parse(row.record) as { receipt: string };
      const [header, claims, signature] = record.receipt.split(".");
      const altered = btoa(JSON.stringify({ ...JSON.parse(atob(claims.replace(/-/g, "+").replace(/_/g, "/"))), decision: "allow" })).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      state.storage.sql.exec("UPDATE entries SET record = ? WHERE decision_id = ?", JSON.stringify({ ...record, receipt: `${header}.${altered}.${signature}` }), asked);
    });
    text = await (await auditor.get(`/console/decisions/${tenant}/${asked}`)).text();
    expect(text).toContain("The receipt does not verify");
    expect(text).toContain("bad_signature");
  });

  it("another tenant's auditor, an approver and no session reach nothing; bad input is a 4xx", async () => {
    const { denied } = await loggedDecisions();
    const acmeDecision = await decide({ ...refundInput(uniqueId("s"), 100_000), risk_tier: "critical" });
    const initech = await signIn(TEST_TOKENS.initechEverything);
    expect((await initech.get("/console/decisions/acme")).status).toBe(403);
    expect((await initech.get(`/console/decisions/acme/${acmeDecision.decision_id}`)).status).toBe(403);
    // Under its own tenant, acme's decision is not there.
    expect((await initech.get(`/console/decisions/initech/${acmeDecision.decision_id}`)).status).toBe(404);
    const approver = await signIn(TEST_TOKENS.acmeApprover);
    expect((await approver.get("/console/decisions/acme")).status).toBe(403);
    const acme = await signIn(TEST_TOKENS.acmeAuditor);
    expect((await acme.get(`/console/decisions/acme/${acmeDecision.decision_id}`)).status).toBe(200);
    expect((await acme.get(`/console/decisions/acme/${denied}`)).status).toBe(404);
    expect((await acme.get("/console/decisions/acme/not-an-id")).status).toBe(400);
    expect((await acme.get("/console/decisions/acme?from=yesterday")).status).toBe(400);
    expect((await acme.get("/console/decisions/acme?outcome=maybe")).status).toBe(400);
    expect((await acme.get(`/console/decisions/acme?agent=${"x".repeat(300)}`)).status).toBe(400);
    expect((await acme.get("/console/decisions/acme?before=-1")).status).toBe(400);
  });
});

/**
 * The console in workerd, as a person and as an attacker would use it:
 * sign-in gives a cookie that is HttpOnly, SameSite=Strict and, over TLS,
 * Secure with the __Host- prefix; a deep link survives sign-in; every change
 * needs this origin and the session's CSRF token; what a person sees follows
 * the admin API's table exactly; the inbox shows what approvers need and
 * updates live; approving wakes the waiting agent at once.
 */
import { createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import worker from "../../src/index";
import { CONSOLE_ACCESS } from "../../src/console/console-access";
import type { SessionDO } from "../../src/session/session-do";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentFetch, decide, fireAlarm, refundInput, sessionStub, uniqueId } from "../session/helpers";
import { consoleFetch, csrfOf, form, ORIGIN, sessionCookie, signIn, signInResponse } from "./console-client";

/** A pending refund approval of acme, in the tenant's index. */
async function pendingApproval(amount = 900): Promise<{ id: string; session: string; decisionId: string }> {
  const session = uniqueId("console");
  const asked = await decide(refundInput(session, amount));
  expect(asked.decision).toBe("require_approval");
  await fireAlarm(sessionStub(session, "agent-7"));
  return { id: asked.session.approval.id, session, decisionId: asked.decision_id };
}

describe("console access", () => {
  it("has an access entry for every console route, and none for a route it does not serve", () => {
    const served = app.routes
      .filter((route) => route.path.startsWith("/console") && route.method !== "ALL")
      .map((route) => `${route.method} ${route.path}`)
      .filter((route) => !["GET /console/sign-in", "POST /console/sign-in", "GET /console/static/console.css", "GET /console/static/console.js"].includes(route));
    expect(new Set(served)).toEqual(new Set(CONSOLE_ACCESS.map((rule) => `${rule.method} ${rule.path}`)));
  });

  it("every console route that shows a tenant names an admin route the gate knows", () => {
    const admin = new Set(app.routes.filter((r) => r.path.startsWith("/v1/admin/")).map((r) => `${r.method} ${r.path}`));
    for (const rule of CONSOLE_ACCESS) if (rule.admin) expect(admin, `${rule.method} ${rule.path}`).toContain(`${rule.admin.method} ${rule.admin.path}`);
  });

  it("a wrong token is refused with a page that says what to do; a right one gives a strict, HttpOnly cookie", async () => {
    const wrong = await signInResponse("not-a-token");
    expect(wrong.status).toBe(401);
    expect(sessionCookie(wrong)).toBeUndefined();
    const text = await wrong.text();
    expect(text, text).toContain("not an admin token of this deployment");

    const right = await signInResponse(TEST_TOKENS.acmeApprover);
    expect(right.status).toBe(303);
    const header = right.headers.get("set-cookie")!;
    expect(header).toMatch(/HttpOnly/i);
    expect(header).toMatch(/SameSite=Strict/i);
    expect(header).not.toContain(TEST_TOKENS.acmeApprover);
    // Over plain HTTP (local runs) a Secure cookie would never come back; over TLS it is Secure and __Host-.
    expect(header).not.toMatch(/Secure/i);
    const tls = await worker.fetch(
      new Request("https://console.example/console/sign-in", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://console.example" }, body: form({ token: TEST_TOKENS.acmeApprover }) }),
      env,
      createExecutionContext(),
    );
    expect(tls.status).toBe(303);
    expect(tls.headers.get("set-cookie")).toMatch(/^__Host-tollgate_console=.*; Secure/i);
  });

  it("a deep link asked for without a session goes to sign-in and back to the same link", async () => {
    const { id } = await pendingApproval();
    const link = `/console/approvals/acme/${id}`;
    const bounced = await consoleFetch(link);
    expect(bounced.status).toBe(303);
    const signInUrl = bounced.headers.get("location")!;
    expect(signInUrl).toBe(`/console/sign-in?next=${encodeURIComponent(link)}`);
    const page = await (await consoleFetch(signInUrl)).text();
    expect(page).toContain(`name="next" value="${link}"`);
    const signedIn = await signInResponse(TEST_TOKENS.acmeApprover, link);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe(link);
  });

  it("sign-in never sends a person off the console", async () => {
    for (const next of ["https://evil.example/", "//evil.example/console", "/console/../v1/admin", "/console/%2e%2e/v1/admin", "/\\evil.example", "javascript:alert(1)"]) {
      const response = await signInResponse(TEST_TOKENS.acmeApprover, next);
      expect(response.headers.get("location"), next).toBe("/console");
    }
  });

  it("a forged, tampered or expired cookie is no session", async () => {
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    expect((await browser.get("/console/approvals/acme")).status).toBe(200);
    const [name, value] = browser.cookie.split("=");
    const tampered = `${name}=${value.replace(/\.(\d+)\./, (_, ms: string) => `.${Number(ms) + 1}.`)}`;
    expect((await consoleFetch("/console/approvals/acme", { headers: { cookie: tampered } })).status).toBe(303);
    expect((await consoleFetch("/console/approvals/acme", { headers: { cookie: `${name}=v1.${"0".repeat(64)}.1.${"0".repeat(32)}.c2ln` } })).status).toBe(303);
    // A cookie the deployment signed 9 hours ago: past the 8-hour session.
    const { serializeSigned } = await import("hono/utils/cookie");
    const hash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(TEST_TOKENS.acmeApprover)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const old = await serializeSigned("tollgate_console", `v1.${hash}.${Date.now() - 9 * 3600_000}.${"a".repeat(32)}`, env.CONSOLE_SESSION_KEY);
    expect((await consoleFetch("/console/approvals/acme", { headers: { cookie: old.split(";")[0] } })).status).toBe(303);
  });

  it("a token taken out of ADMIN_TOKENS ends its console sessions", async () => {
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const without = JSON.parse(env.ADMIN_TOKENS) as Record<string, unknown>;
    const hash = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(TEST_TOKENS.acmeApprover)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    delete without[hash];
    const response = await worker.fetch(new Request(`${ORIGIN}/console/approvals/acme`, { headers: { cookie: browser.cookie }, redirect: "manual" }), { ...env, ADMIN_TOKENS: JSON.stringify(without) }, createExecutionContext());
    expect(response.status).toBe(303);
  });

  it("signing out clears the cookie, and needs the session's CSRF token", async () => {
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    expect((await browser.post("/console/sign-out", { _csrf: "0".repeat(64) })).status).toBe(403);
    const out = await browser.post("/console/sign-out", {});
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/console/sign-in");
    expect(out.headers.get("set-cookie")).toMatch(/^tollgate_console=; Max-Age=0/);
  });

  it("signing out ends the session on the server: a copy of the cookie kept from before gets nothing, other sessions go on", async () => {
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const other = await signIn(TEST_TOKENS.acmeApprover);
    const csrf = await browser.csrf();
    expect((await browser.get("/console/approvals/acme")).status).toBe(200);
    expect((await browser.post("/console/sign-out", {})).status).toBe(303);
    // The same cookie, replayed as someone who copied it would.
    const replayed = await browser.get("/console/approvals/acme");
    expect(replayed.status).toBe(303);
    expect(replayed.headers.get("location")).toMatch(/^\/console\/sign-in\?next=/);
    const change = await browser.post("/console/sign-out", { _csrf: csrf });
    expect(change.status).toBe(401);
    expect((await other.get("/console/approvals/acme")).status).toBe(200);
  });

  it("a console that cannot check its sign-outs lets no session in, and does not pretend to sign one out", async () => {
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const csrf = await browser.csrf();
    const unreachable = {
      idFromName: (name: string) => env.CONSOLE_SIGN_OUTS.idFromName(name),
      get: () => ({
        isSignedOut: () => Promise.reject(new Error("object unreachable")),
        signOut: () => Promise.reject(new Error("object unreachable")),
      }),
    };
    const broken = { ...env, CONSOLE_SIGN_OUTS: unreachable as unknown as typeof env.CONSOLE_SIGN_OUTS };
    const page = await worker.fetch(new Request(`${ORIGIN}/console/approvals/acme`, { headers: { cookie: browser.cookie } }), broken, createExecutionContext());
    expect(page.status).toBe(503);
    expect(await page.text()).toContain("cannot check its sessions");
    const out = await worker.fetch(
      new Request(`${ORIGIN}/console/sign-out`, {
        method: "POST",
        headers: { cookie: browser.cookie, "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
        body: form({ _csrf: csrf }),
      }),
      broken,
      createExecutionContext(),
    );
    expect(out.status).toBe(503);
    expect(out.headers.get("set-cookie")).toBeNull();
    // The sign-in form itself needs no check.
    expect((await worker.fetch(new Request(`${ORIGIN}/console/sign-in`, { headers: { cookie: browser.cookie } }), broken, createExecutionContext())).status).toBe(200);
    // With the object back, the session was never ended.
    expect((await browser.get("/console/approvals/acme")).status).toBe(200);
  });

  it("the console is closed, saying how to open it, when it has no session key", async () => {
    const response = await worker.fetch(new Request(`${ORIGIN}/console/sign-in`), { ...env, CONSOLE_SESSION_KEY: "" }, createExecutionContext());
    expect(response.status).toBe(503);
    expect(await response.text()).toContain("CONSOLE_SESSION_KEY");
  });

  it("another tenant's approver sees and decides nothing of acme's, even knowing an approval's id", async () => {
    const { id } = await pendingApproval();
    const initech = await signIn(TEST_TOKENS.initechApprover);
    expect((await initech.get("/console/approvals/acme")).status).toBe(403);
    expect((await initech.get(`/console/approvals/acme/${id}`)).status).toBe(403);
    // Under its own tenant, acme's approval is absent.
    expect((await initech.get(`/console/approvals/initech/${id}`)).status).toBe(404);
    const decided = await initech.post(`/console/approvals/initech/${id}`, { decision: "approve", reason: "mine now" });
    expect(decided.status).toBe(404);
    expect((await initech.post(`/console/approvals/acme/${id}`, { decision: "approve", reason: "mine now" })).status).toBe(403);
    // An operator of acme is not an approver.
    const operator = await signIn(TEST_TOKENS.acmeOperator);
    expect((await operator.get("/console/approvals/acme")).status).toBe(403);
    const home = await (await operator.get("/console")).text();
    expect(home).not.toContain('href="/console/approvals"');
    // The approval is still pending: nothing above changed it.
    const acme = await signIn(TEST_TOKENS.acmeApprover);
    expect(await (await acme.get(`/console/approvals/acme/${id}`)).text()).toContain("badge pending");
  });

  it("bad input gets a clear 4xx page, never a 500", async () => {
    const { id } = await pendingApproval();
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const csrf = await browser.csrf(`/console/approvals/acme/${id}`);
    const path = `/console/approvals/acme/${id}`;
    const headers = { cookie: browser.cookie, origin: ORIGIN, "content-type": "application/x-www-form-urlencoded" };
    expect((await browser.get("/console/approvals/ACME")).status).toBe(400);
    expect((await browser.get("/console/approvals/acme/apr_nope")).status).toBe(400);
    expect((await browser.get("/console/approvals/acme?status=whatever")).status).toBe(400);
    // No Origin, another origin, no CSRF token, another session's token: 403.
    expect((await consoleFetch(path, { method: "POST", headers: { ...headers, origin: "" }, body: form({ decision: "approve", reason: "x", _csrf: csrf }) })).status).toBe(403);
    expect((await consoleFetch(path, { method: "POST", headers: { ...headers, origin: "https://evil.example" }, body: form({ decision: "approve", reason: "x", _csrf: csrf }) })).status).toBe(403);
    expect((await consoleFetch(path, { method: "POST", headers, body: form({ decision: "approve", reason: "x" }) })).status).toBe(403);
    const other = await signIn(TEST_TOKENS.acmeApprover);
    expect((await consoleFetch(path, { method: "POST", headers, body: form({ decision: "approve", reason: "x", _csrf: await other.csrf() }) })).status).toBe(403);
    // The wrong content type, an oversized form, a field twice, a field nested a thousand deep, no reason.
    expect((await consoleFetch(path, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ decision: "approve" }) })).status).toBe(415);
    expect((await consoleFetch(path, { method: "POST", headers, body: form({ decision: "approve", reason: "x".repeat(20_000), _csrf: csrf }) })).status).toBe(413);
    expect((await consoleFetch(path, { method: "POST", headers, body: `${form({ decision: "approve", reason: "x", _csrf: csrf })}&decision=reject` })).status).toBe(400);
    expect((await consoleFetch(path, { method: "POST", headers, body: `${form({ decision: "approve", reason: "x", _csrf: csrf })}&${"[a]".repeat(1000)}=1` })).status).toBe(400);
    const noReason = await consoleFetch(path, { method: "POST", headers, body: form({ decision: "approve", reason: "  ", _csrf: csrf }) });
    expect(noReason.status).toBe(400);
    expect(await noReason.text()).toContain("give a reason");
    // Still pending after all of it.
    expect(await (await browser.get(path)).text()).toContain("badge pending");
  });
});

describe("the approvals inbox", () => {
  it("shows the exact action as far as the policy allows, the rule, agent, owner, session, budget effect and expiry", async () => {
    const { id, session, decisionId } = await pendingApproval(900);
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const inbox = await (await browser.get("/console/approvals/acme")).text();
    expect(inbox).toContain(`/console/approvals/acme/${id}`);
    expect(inbox).toContain("payments.refund");
    expect(inbox).toContain("refund_requires_approval");
    const page = await (await browser.get(`/console/approvals/acme/${id}`)).text();
    expect(page).toContain("payments.refund");
    // The policy's log_args obligation names amount and currency: those are shown.
    expect(page).toContain("&quot;amount&quot;:900");
    expect(page).toContain("refund of 900 is above the approval threshold");
    expect(page).toContain("agent-7");
    expect(page).toContain("ops@example.com");
    expect(page).toContain(session);
    expect(page).toContain(decisionId);
    expect(page).toMatch(/api calls<\/th><td class="num">\d+<\/td><td class="num">\+1<\/td>/);
    expect(page).toMatch(/expires in (59 min|1 h 0 min)/);
  });

  it("a corrupt context stored with an approval shows as not recorded, not as an error", async () => {
    const { id, session } = await pendingApproval(901);
    await runInDurableObject(sessionStub(session, "agent-7"), (instance: SessionDO, state) => {
      void instance;
      state.storage.sql.exec("UPDATE approvals SET context = '{not json' WHERE id = ?", id);
    });
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const page = await browser.get(`/console/approvals/acme/${id}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("were not recorded");
  });

  it("approving with a reason wakes the waiting agent at once; a second decision is refused with who decided", async () => {
    const { id } = await pendingApproval();
    const waiting = agentFetch(`/v1/approvals/${id}?wait=30`);
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const started = Date.now();
    const done = await browser.post(`/console/approvals/acme/${id}`, { decision: "approve", reason: "customer is eligible, ticket T-42" }, { from: `/console/approvals/acme/${id}` });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(`/console/approvals/acme/${id}?done=approved`);
    const woken = await (await waiting).json<{ status: string; decided_by: string; reason: string }>();
    expect(woken).toMatchObject({ status: "approved", decided_by: "acme-finance-lead", reason: "customer is eligible, ticket T-42" });
    expect(Date.now() - started).toBeLessThan(5_000);
    const again = await browser.post(`/console/approvals/acme/${id}`, { decision: "reject", reason: "changed my mind" });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("by acme-finance-lead");
  });

  it("says 'you approved' only when this approver did: a crafted ?done= link to a pending approval says nothing of the kind", async () => {
    const { id } = await pendingApproval();
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    for (const done of ["approved", "rejected"]) {
      const crafted = await (await browser.get(`/console/approvals/acme/${id}?done=${done}`)).text();
      expect(crafted, done).not.toContain(`You ${done} this request`);
    }
    const decided = await browser.post(`/console/approvals/acme/${id}`, { decision: "approve", reason: "checked the ticket" }, { from: `/console/approvals/acme/${id}` });
    const landed = await (await browser.get(decided.headers.get("location")!)).text();
    expect(landed).toContain("You approved this request");
    expect(await (await browser.get(`/console/approvals/acme/${id}?done=rejected`)).text()).not.toContain("You rejected this request");
  });

  it("rejecting tells the agent it was rejected", async () => {
    const { id } = await pendingApproval();
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    expect((await browser.post(`/console/approvals/acme/${id}`, { decision: "reject", reason: "not eligible" })).status).toBe(303);
    const seen = await (await agentFetch(`/v1/approvals/${id}`)).json<{ status: string; reason: string }>();
    expect(seen).toMatchObject({ status: "rejected", reason: "not eligible" });
  });

  it("streams changes live: a new request and a decision reach an open inbox", async () => {
    const browser = await signIn(TEST_TOKENS.acmeApprover);
    const live = await browser.get("/console/approvals/acme/live");
    expect(live.status).toBe(200);
    expect(live.headers.get("content-type")).toContain("text/event-stream");
    const reader = live.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const until = async (text: string) => {
      const deadline = Date.now() + 10_000;
      while (!seen.includes(text)) {
        if (Date.now() > deadline) throw new Error(`no ${text} in ${seen}`);
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        seen += value;
      }
    };
    await until(": connected");
    const { id } = await pendingApproval();
    await until(`"id":"${id}","status":"pending"`);
    await browser.post(`/console/approvals/acme/${id}`, { decision: "approve", reason: "ok" });
    await until(`"id":"${id}","status":"approved"`);
    await reader.cancel();
    // Another tenant's approver cannot open acme's stream.
    const initech = await signIn(TEST_TOKENS.initechApprover);
    expect((await initech.get("/console/approvals/acme/live")).status).toBe(403);
    expect((await consoleFetch("/console/approvals/acme/live")).status).toBe(401);
  });

  it("the inbox says so when nothing is waiting", async () => {
    const browser = await signIn(TEST_TOKENS.initechApprover);
    const page = await (await browser.get("/console/approvals/initech?status=rejected")).text();
    expect(page).toContain("No rejected approval for initech.");
    expect(csrfOf(page)).toMatch(/^[0-9a-f]{64}$/);
  });
});

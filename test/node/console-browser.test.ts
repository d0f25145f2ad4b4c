/**
 * The console in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, against the edge served from workerd on loopback (the
 * same bundle `npm start` serves). A person signs in, follows an
 * approval's deep link, approves it and the agent waiting on it proceeds;
 * rejects another; searches the decision log and opens a decision; resets
 * a breaker; and an approver of one tenant sees nothing of another's. With
 * CONSOLE_SCREENSHOTS=write the run also writes the screenshots in
 * docs/console/ that the README shows.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleEdge, startEdge, type RunningEdge } from "../../scripts/lib/edge-server.ts";
import { ROOT } from "../../scripts/toolchain.mjs";
import { TEST_TOKENS, testPrivateKeyPath, testStoreBindings } from "../fixtures/test-config.ts";
import { launchChromium } from "./debian-chromium.ts";

const SHOTS = process.env.CONSOLE_SCREENSHOTS === "write" ? join(ROOT, "docs", "console") : undefined;

let edge: RunningEdge;
let browser: Browser;
let base: string;
const agentKeys = new Map<string, string>();

async function admin(path: string, token: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return fetch(`${base}/v1/admin${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${token}`, ...(init.body ? { "content-type": "application/json" } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
}

/** Registers a finance agent with the tenant and mints its key, once per tenant. */
async function agentKey(tenant: string): Promise<string> {
  const known = agentKeys.get(tenant);
  if (known) return known;
  const registered = await admin(`/registry/${tenant}/agents/agent-7`, TEST_TOKENS.registrar, {
    method: "PUT",
    body: { owner: `finance-ops@${tenant}.example`, role: "finance", max_risk_tier: "high", certified_until: "2099-01-01" },
  });
  expect([200, 201]).toContain(registered.status);
  const issued = await admin(`/registry/${tenant}/agents/agent-7/keys`, TEST_TOKENS.registrar, { method: "POST", body: { label: "browser test" } });
  expect(issued.status).toBe(201);
  const { key } = (await issued.json()) as { key: string };
  agentKeys.set(tenant, key);
  return key;
}

async function decide(tenant: string, session: string, action: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const response = await fetch(`${base}/v1/decide`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await agentKey(tenant)}` },
    body: JSON.stringify({ risk_tier: "high", session: { id: session }, action, ...extra }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { decision: string; decision_id: string; session: { approval?: { id: string }; breaker?: string }; reasons: Array<{ rule: string }> };
}

const refund = (amount: number) => ({ type: "tool_call", tool: "payments.refund", args: { amount, currency: "EUR" } });

/** A pending approval, once the session's alarm has copied it to the tenant's index. */
async function pendingApproval(tenant: string, session: string, amount: number): Promise<string> {
  const asked = await decide(tenant, session, refund(amount));
  expect(asked.decision).toBe("require_approval");
  const id = asked.session.approval!.id;
  for (let i = 0; i < 100; i++) {
    const listed = (await (await admin(`/approvals/${tenant}?status=pending`, approverOf(tenant))).json()) as { approvals: Array<{ id: string }> };
    if (listed.approvals.some((a) => a.id === id)) return id;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`approval ${id} never reached the index`);
}

const approverOf = (tenant: string) => (tenant === "acme" ? TEST_TOKENS.acmeApprover : TEST_TOKENS.initechApprover);

async function newPage(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  return context.newPage();
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function shoot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  bundleEdge();
  // Chromium shares the two cores: the session object and the sandbox get more time than in production,
  // so a slow moment fails no decision closed (that behaviour has tests of its own).
  edge = await startEdge({ port: 18821, vars: { ...testStoreBindings(), SESSION_TIMEOUT_MS: "5000", POLICY_TIMEOUT_MS: "5000" } });
  base = edge.url.origin;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await edge?.dispose();
});

describe("the console in Chromium", () => {
  it("signs in from an approval's deep link, approves it, and the waiting agent proceeds", async () => {
    const session = `browser-approve-${Date.now()}`;
    const id = await pendingApproval("acme", session, 900);
    const page = await newPage();
    await page.goto(`${base}/console/approvals/acme/${id}`);
    // Not signed in: the sign-in page, which returns to the deep link.
    await expect.poll(() => page.url()).toContain("/console/sign-in?next=");
    await shoot(page, "sign-in");
    await signIn(page, TEST_TOKENS.acmeApprover);
    await page.waitForURL(`${base}/console/approvals/acme/${id}`);
    const main = page.locator("main");
    await expect.poll(() => main.innerText()).toContain("refund_requires_approval");
    expect(await main.innerText()).toContain("finance-ops@acme.example");
    await shoot(page, "approval");

    // The agent waits on its approval while the person decides.
    const waiting = fetch(`${base}/v1/approvals/${id}?wait=30`, { headers: { authorization: `Bearer ${await agentKey("acme")}` } }).then((r) => r.json() as Promise<{ status: string }>);
    await page.getByLabel(/Reason/).fill("customer is eligible, ticket T-42");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(/done=approved/);
    expect(await page.getByRole("status").first().innerText()).toContain("You approved this request");
    expect((await waiting).status).toBe("approved");
    // And it proceeds: the same action, with the approval, is allowed.
    const proceeded = await decide("acme", session, refund(900), { approval_id: id });
    expect(proceeded.decision).toBe("allow");
    await page.context().close();
  });

  it("rejects a request, and the inbox updates live without a reload", async () => {
    const page = await newPage();
    await page.goto(`${base}/console/approvals/acme`);
    await signIn(page, TEST_TOKENS.acmeApprover);
    await page.waitForURL(`${base}/console/approvals/acme`);
    await expect.poll(() => page.locator("#live-status").innerText()).toContain("Live");
    const session = `browser-reject-${Date.now()}`;
    const id = await pendingApproval("acme", session, 950);
    // The new request appears in the open inbox by itself.
    const row = page.locator(`a[href="/console/approvals/acme/${id}"]`);
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    await shoot(page, "inbox");
    await row.click();
    await page.getByLabel(/Reason/).fill("not eligible: order was delivered");
    await page.getByRole("button", { name: "Reject" }).click();
    await page.waitForURL(/done=rejected/);
    const seen = (await (await fetch(`${base}/v1/approvals/${id}`, { headers: { authorization: `Bearer ${await agentKey("acme")}` } })).json()) as { status: string };
    expect(seen.status).toBe("rejected");
    const denied = await decide("acme", session, refund(950), { approval_id: id });
    expect(denied.decision, JSON.stringify(denied.reasons)).toBe("require_approval");
    await page.context().close();
  });

  it("an approver of one tenant sees nothing of another's", async () => {
    const id = await pendingApproval("acme", `browser-other-${Date.now()}`, 990);
    const page = await newPage();
    await page.goto(`${base}/console/approvals`);
    await signIn(page, TEST_TOKENS.initechApprover);
    await page.waitForURL(`${base}/console/approvals`);
    expect(await page.locator("main").innerText()).not.toContain("acme");
    const inbox = await page.goto(`${base}/console/approvals/acme`);
    expect(inbox?.status()).toBe(403);
    expect(await page.locator("main").innerText()).toContain("Ask for a token with the right role and scope");
    const deep = await page.goto(`${base}/console/approvals/initech/${id}`);
    expect(deep?.status()).toBe(404);
    expect(await page.locator("main").innerText()).not.toContain("payments.refund");
    await page.context().close();
  });

  it("searches the decision log and opens a decision, with its receipt verified and its place in the chain", async () => {
    const session = `browser-log-${Date.now()}`;
    const denied = await decide("acme", session, refund(100_000), { risk_tier: "critical" });
    expect(denied.decision).toBe("deny");
    const page = await newPage();
    await page.goto(`${base}/console/decisions`);
    await signIn(page, TEST_TOKENS.acmeAuditor);
    await page.getByRole("link", { name: "acme" }).click();
    await page.getByLabel("Session").fill(session);
    await page.getByLabel("Outcome").selectOption("deny");
    await page.getByLabel("Rule").fill("refund_over_hard_cap");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/outcome=deny/);
    await shoot(page, "decisions");
    const rows = page.locator("tbody tr");
    expect(await rows.count()).toBe(1);
    await rows.first().getByRole("link").click();
    await page.waitForURL(`${base}/console/decisions/acme/${denied.decision_id}`);
    const main = page.locator("main");
    expect(await main.innerText()).toContain("refund_over_hard_cap");
    expect(await main.innerText()).toContain("The receipt verifies");
    // Sealed into a signed segment within seconds; the page says so until then.
    await expect.poll(async () => (await page.reload(), main.innerText()), { timeout: 20_000, interval: 1000 }).toMatch(/Segment \d+ verifies/);
    await shoot(page, "decision");
    await page.context().close();
  });

  it("resets a breaker three denials opened, and the session's next action is judged by policy again", async () => {
    const session = `browser-breaker-${Date.now()}`;
    for (let i = 0; i < 3; i++) expect((await decide("acme", session, refund(100_000))).decision).toBe("deny");
    expect((await decide("acme", session, refund(100))).reasons.map((r) => r.rule)).toContain("circuit_open");
    const page = await newPage();
    await page.goto(`${base}/console/sessions/acme`);
    await signIn(page, TEST_TOKENS.acmeOperator);
    await page.waitForURL(`${base}/console/sessions/acme`);
    const button = page.getByRole("button", { name: `Reset ${session}` });
    // The session's alarm reports the opening to the tenant's index within moments.
    await expect.poll(async () => (await page.reload(), button.count()), { timeout: 15_000, interval: 500 }).toBe(1);
    expect(await page.locator("main").innerText()).toContain("3 denied actions within 300 s");
    await shoot(page, "breakers");
    await button.click();
    await page.waitForURL(/done=reset/);
    expect(await page.getByRole("status").first().innerText()).toContain("Breaker reset");
    await shoot(page, "session");
    expect((await decide("acme", session, refund(100))).decision).toBe("allow");
    await page.context().close();
  });

  it("shows a tenant's policy with who published it, its insights, its agents, and adds an alert webhook with the secret shown once", async () => {
    // A regional team's publishes, as the CLI makes them: global, then acme's layer twice.
    const work = mkdtempSync(join(tmpdir(), "tollgate-console-"));
    const publish = (scope: string, keyId: string, version: number) => {
      const out = join(work, `${scope.replace(":", "-")}-${version}`);
      for (const args of [
        ["build", "--scope", scope, "--out", out],
        ["sign", out, "--key", testPrivateKeyPath(keyId), "--version", String(version)],
        ["publish", out, "--url", base, "--token", TEST_TOKENS.operator],
      ]) {
        const run = spawnSync(process.execPath, ["bin/tollgate.mjs", ...args], { encoding: "utf8" });
        expect(run.status, run.stderr).toBe(0);
      }
    };
    const version = Date.now();
    publish("global", "global-test", version);
    publish("tenant:acme", "tenants-test", version);
    publish("tenant:acme", "tenants-test", version + 1);

    const page = await newPage();
    await page.goto(`${base}/console/policy`);
    await signIn(page, TEST_TOKENS.operator);
    await page.getByRole("link", { name: "tenant:acme" }).click();
    await page.waitForURL(`${base}/console/policy/tenant:acme`);
    const main = page.locator("main");
    expect(await main.innerText()).toContain(`From v${version} to v${version + 1}`);
    expect(await main.innerText()).toContain("platform-oncall");
    await shoot(page, "policy");

    await page.goto(`${base}/console/insights/acme?days=1`);
    expect(await main.innerText()).toContain("refund_over_hard_cap");
    await shoot(page, "insights");

    await page.goto(`${base}/console/registry/acme`);
    expect(await main.innerText()).toContain("finance-ops@acme.example");
    await shoot(page, "agents");

    await page.goto(`${base}/console/alerts/acme`);
    await page.getByLabel("URL (https)").fill("http://127.0.0.1:9/hooks/tollgate");
    await page.getByLabel("breaker opened").uncheck();
    await page.getByLabel("Format").selectOption("slack");
    await page.getByRole("button", { name: "Add webhook" }).click();
    await expect.poll(() => main.innerText()).toContain("Its signing secret is shown this once");
    const secret = await page.locator("main pre").first().innerText();
    expect(secret).toMatch(/^whsec_[0-9a-f]{48}$/);
    const listed = await (await fetch(`${base}/v1/admin/alerts/acme`, { headers: { authorization: `Bearer ${TEST_TOKENS.operator}` } })).json() as { webhooks: Array<{ events: string[]; format: string }> };
    expect(listed.webhooks.at(-1)).toMatchObject({ events: ["approval_requested", "critical_deny", "policy_published"], format: "slack" });
    await page.goto(`${base}/console/alerts/acme`);
    expect(await main.innerText()).not.toContain(secret);
    await shoot(page, "alerts");
    await page.context().close();
  }, 120_000);

  it("every page can be used from the keyboard: a skip link first, then the navigation", async () => {
    const page = await newPage();
    await page.goto(`${base}/console`);
    await signIn(page, TEST_TOKENS.operator);
    await page.waitForURL(`${base}/console`);
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Tollgate console");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.getAttribute('href')")).toMatch(/^\/console\//);
    await shoot(page, "home");
    await page.context().close();
  });
});

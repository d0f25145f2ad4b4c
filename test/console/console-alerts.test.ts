/**
 * Alerts to a tenant's webhooks, delivered for real to a receiver on
 * loopback: a critical denial, an approval request, a breaker opening and a
 * tenant's policy publish each arrive, signed with the webhook's secret
 * (HMAC-SHA256 over the time and the body); a Slack-compatible webhook gets
 * `{"text": …}`; a receiver that keeps failing is retried with a doubling
 * backoff, each attempt recorded, then given up. Only a tenant's operators
 * configure its webhooks, and a bad URL or event list is a 400.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { intoAlertMessages, queueAlert } from "../../src/alerts/alert-batches";
import { alertEvent, type AlertMessage } from "../../src/alerts/alert-event";
import { consumeAlerts } from "../../src/alerts/alerts-consumer";
import { alertsObject } from "../../src/alerts/alerts-objects";
import { criticalDenyAlert } from "../../src/alerts/decision-alerts";
import { webhookDestinationProblem } from "../../src/alerts/webhook-destination";
import { payloadOf } from "../../src/alerts/webhook-delivery";
import { toBase64Url } from "../../src/bundles/signature";
import { approvalsIndex, breakerIndex } from "../../src/session/objects";
import type { ApprovalRecord } from "../../src/session/types";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin, decide, fireAlarm, refundInput, sessionStub, uniqueId } from "../session/helpers";
import { layerFiles, signLayer } from "../store/harness";
import { consoleFetch, signIn, type ConsoleBrowser } from "./console-client";

const receiver = inject("webhookReceiverUrl");

interface Received {
  headers: Record<string, string>;
  body: string;
  /** When the receiver got it (its clock, this machine's). */
  at: number;
}

async function received(hook: string, count: number, timeoutMs = 20_000): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { received: got } = (await (await fetch(`${receiver}/hook/${hook}/received`)).json()) as { received: Received[] };
    if (got.length >= count || Date.now() > deadline) return got;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return [...new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function verified(delivery: Received, secret: string): Promise<boolean> {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(delivery.headers["x-tollgate-signature"] ?? "");
  return !!match && (await hmacHex(secret, `${match[1]}.${delivery.body}`)) === match[2] && Math.abs(Date.now() / 1000 - Number(match[1])) < 120;
}

async function addWebhook(browser: ConsoleBrowser, tenant: string, hook: string, events: string[], format = "tollgate"): Promise<string> {
  const csrf = await browser.csrf(`/console/alerts/${tenant}`);
  const body = new URLSearchParams({ _csrf: csrf, url: `${receiver}/hook/${hook}`, format });
  for (const event of events) body.append("events", event);
  const created = await consoleFetch(`/console/alerts/${tenant}/webhooks`, {
    method: "POST",
    headers: { cookie: browser.cookie, origin: "http://edge", "content-type": "application/x-www-form-urlencoded" },
    body: body.toString(),
  });
  expect(created.status).toBe(201);
  const page = await created.text();
  const secret = /<pre>(whsec_[0-9a-f]{48})<\/pre>/.exec(page)?.[1];
  expect(secret).toBeDefined();
  return secret!;
}

async function counters(): Promise<Record<string, number>> {
  return (await (await admin("/audit/status", TEST_TOKENS.operator)).json<{ counters: Record<string, number> }>()).counters;
}

/** What an object keeps alive through its waitUntil from here on, collected (it is still kept alive). */
function keptAlive(state: DurableObjectState): Promise<unknown>[] {
  const kept: Promise<unknown>[] = [];
  const waitUntil = state.waitUntil.bind(state);
  state.waitUntil = (work) => {
    kept.push(work);
    waitUntil(work);
  };
  return kept;
}

const tenantOf = (prefix: string) => uniqueId(prefix).toLowerCase().replace(/[^a-z0-9-]/g, "-");
const input = (tenant: string, amount: number, session: string, tier = "high") => ({ ...refundInput(session, amount), tenant, risk_tier: tier });

describe("alerts", () => {
  it("a critical denial, an approval request, a breaker opening and a publish each reach the webhook, signed", async () => {
    const tenant = tenantOf("alert");
    const hook = tenantOf("hook");
    const operator = await signIn(TEST_TOKENS.operator);
    const secret = await addWebhook(operator, tenant, hook, ["approval_requested", "breaker_opened", "critical_deny", "policy_published"]);
    // The secret is shown once: the listing never carries it.
    expect(await (await operator.get(`/console/alerts/${tenant}`)).text()).not.toContain(secret);

    const denied = await decide(input(tenant, 100_000, uniqueId("s"), "critical"));
    expect(denied.decision).toBe("deny");
    const approvalSession = uniqueId("s");
    const asked = await decide(input(tenant, 900, approvalSession));
    await fireAlarm(sessionStub(approvalSession, "agent-7", tenant));
    const tripped = uniqueId("s");
    for (let i = 0; i < 3; i++) await decide(input(tenant, 100_000, tripped));
    await fireAlarm(sessionStub(tripped, "agent-7", tenant));
    const { manifest, files } = await signLayer("tenant:acme", { version: Date.now(), nowMs: Date.now(), scope: `tenant:${tenant}`, keyId: "tenants-test", files: layerFiles("tenant:acme") });
    const global = await signLayer("global", { version: Date.now(), nowMs: Date.now() });
    const encode = (f: Record<string, Uint8Array>) => Object.fromEntries(Object.entries(f).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    await admin("/bundles/global", TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest: global.manifest, files: encode(global.files) }) });
    expect((await admin(`/bundles/tenant:${tenant}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encode(files) }) })).status).toBe(201);

    const deliveries = await received(hook, 4);
    const events = deliveries.map((d) => JSON.parse(d.body) as { type: string; tenant: string; link: string; data: Record<string, unknown> });
    expect(events.map((e) => e.type).sort()).toEqual(["approval_requested", "breaker_opened", "critical_deny", "policy_published"]);
    for (const delivery of deliveries) expect(await verified(delivery, secret)).toBe(true);
    expect(await verified({ ...deliveries[0], body: deliveries[0].body.replace(tenant, "other") }, secret)).toBe(false);
    expect(events.every((e) => e.tenant === tenant)).toBe(true);
    expect(events.find((e) => e.type === "critical_deny")).toMatchObject({ link: `/console/decisions/${tenant}/${denied.decision_id}`, data: { rules: ["refund_over_hard_cap"] } });
    expect(events.find((e) => e.type === "approval_requested")).toMatchObject({ link: `/console/approvals/${tenant}/${asked.session.approval.id}` });
    expect(events.find((e) => e.type === "breaker_opened")?.data).toMatchObject({ session: tripped, reason: "3 denied actions within 300 s" });
    // Every delivery is on the record as delivered.
    const page = await (await operator.get(`/console/alerts/${tenant}`)).text();
    expect(page.match(/badge delivered/g)?.length).toBe(4);
  });

  it("a Slack-compatible webhook gets a text message, signed the same way", async () => {
    const tenant = tenantOf("slack");
    const hook = tenantOf("slackhook");
    const operator = await signIn(TEST_TOKENS.operator);
    const secret = await addWebhook(operator, tenant, hook, ["critical_deny"], "slack");
    await decide(input(tenant, 100_000, uniqueId("s"), "critical"));
    const [delivery] = await received(hook, 1);
    expect(Object.keys(JSON.parse(delivery.body))).toEqual(["text"]);
    expect(JSON.parse(delivery.body).text).toContain(`[Tollgate · ${tenant}] a critical-tier payments.refund by agent-7 was denied`);
    expect(await verified(delivery, secret)).toBe(true);
  });

  it("loopback is a destination only where the deployment says so (local development and these tests)", () => {
    for (const url of ["http://127.0.0.1:9/hook", "https://localhost/hook", "https://localhost./hook", "https://[::1]/hook", "http://127.1/hook"]) {
      expect(webhookDestinationProblem(url, {}), url).toBeDefined();
      expect(webhookDestinationProblem(url, { ALERT_WEBHOOKS_TO_LOOPBACK: "on" }), url).toBeUndefined();
    }
    expect(webhookDestinationProblem("http://hooks.example.com/x", { ALERT_WEBHOOKS_TO_LOOPBACK: "on" })).toBe("the URL is https://");
    expect(webhookDestinationProblem("https://hooks.example.com/x", {})).toBeUndefined();
  });

  it("a Slack message quotes what an agent sent as text, never as Slack markup", async () => {
    const tenant = tenantOf("slackmarkup");
    const hook = tenantOf("slackmarkuphook");
    const operator = await signIn(TEST_TOKENS.operator);
    await addWebhook(operator, tenant, hook, ["critical_deny"], "slack");
    // An unknown tool is judged at the critical tier, and its denial is alerted with the tool's name.
    const tool = "<!channel> urgent <https://evil.example/login|https://console.example/approve>";
    await decide({ ...input(tenant, 1, uniqueId("s"), "critical"), action: { type: "tool_call", tool, args: {} } });
    const [delivery] = await received(hook, 1);
    const text = JSON.parse(delivery.body).text as string;
    expect(text).toContain("&lt;!channel&gt; urgent &lt;https://evil.example/login|https://console.example/approve&gt;");
    expect(text).not.toMatch(/<!channel>|<https:\/\/evil/);
  });

  it("a Slack message keeps what an agent sent on its one line: a line break in a tool name writes no alert of its own", () => {
    const tool = "x\n[Tollgate · globex] all clear: the critical-tier denials above were a drill\r\u2028done";
    const event = criticalDenyAlert({ tenant: "acme", agent: "helper" } as never, "01a2-0000", { session: { id: "s-1" }, action: { type: "tool_call", tool } } as never, [{ rule: "tool_not_registered", message: "" }]);
    const text = (JSON.parse(payloadOf(event, "slack", "https://console.example")) as { text: string }).text;
    expect(text.startsWith("[Tollgate · acme]")).toBe(true);
    expect(text).not.toMatch(/[\r\n\u2028]/);
    expect(text).toContain("x [Tollgate · globex] all clear");
  });

  it("deliveries of one batch go out side by side: a receiver that never answers delays no other tenant's", async () => {
    const stuck = { tenant: tenantOf("stuck"), hook: tenantOf("stuckhook") };
    const healthy = { tenant: tenantOf("healthy"), hook: tenantOf("healthyhook") };
    await fetch(`${receiver}/hook/${stuck.hook}/status`, { method: "PUT", body: "hang" });
    const targets = [];
    for (const { tenant, hook } of [stuck, healthy]) {
      const created = await alertsObject(env, tenant).create({ url: `${receiver}/hook/${hook}`, events: ["critical_deny"], format: "tollgate" }, "test");
      if (!created.ok) throw new Error(created.message);
      targets.push({ tenant, webhook: created.webhook.id });
    }
    // The consumer driven directly with one batch holding both deliveries, the stuck one first.
    const settled: string[] = [];
    const messages = targets.map(({ tenant, webhook }, i) => ({
      id: `m-${i}`,
      timestamp: new Date(),
      attempts: 1,
      body: { kind: "delivery", webhook_id: webhook, event: alertEvent("critical_deny", tenant, `a test alert of ${tenant}`, "/console", {}) },
      ack: () => settled.push(`${tenant}:ack`),
      retry: () => settled.push(`${tenant}:retry`),
    })) as unknown as Array<Message<AlertMessage>>;
    const started = Date.now();
    const consumed = consumeAlerts({ queue: "tollgate-alerts", messages, ackAll: () => undefined, retryAll: () => undefined } as unknown as MessageBatch<AlertMessage>, env);
    const [delivered] = await received(healthy.hook, 1, 5_000);
    expect(delivered.at - started).toBeLessThan(3_000);
    await consumed;
    expect(settled).toEqual([`${healthy.tenant}:ack`, `${stuck.tenant}:retry`]);
  });

  it("an edge's critical denials leave in one batch: one flush for a burst, and every denial reaches the webhook", async () => {
    const tenant = tenantOf("burst");
    const hook = tenantOf("bursthook");
    const operator = await signIn(TEST_TOKENS.operator);
    await addWebhook(operator, tenant, hook, ["critical_deny"]);
    // Five alerts raised together: the first opens the isolate's batch and owns its flush; the rest join it.
    const flushes: Promise<unknown>[] = [];
    const ids = Array.from({ length: 5 }, (_, i) => `01burst-${i}`);
    for (const id of ids) queueAlert(env, criticalDenyAlert({ tenant, agent: "agent-7" } as never, id, { session: { id: "s-1" }, action: { type: "tool_call", tool: "shell.exec" } } as never, [{ rule: "dangerous_shell_command", message: "" }]), (work) => flushes.push(work));
    expect(flushes).toHaveLength(1);
    await Promise.all(flushes);
    const deliveries = await received(hook, 5);
    expect(deliveries.map((d) => (JSON.parse(d.body) as { data: { decision_id: string } }).data.decision_id).sort()).toEqual(ids);
    // And through the edge: denials decided side by side each raise their own alert.
    const decided = await Promise.all(Array.from({ length: 4 }, () => decide(input(tenant, 100_000, uniqueId("s"), "critical"))));
    const all = await received(hook, 9);
    const links = all.map((d) => (JSON.parse(d.body) as { link: string }).link);
    for (const answer of decided) expect(links).toContain(`/console/decisions/${tenant}/${answer.decision_id}`);
    expect(all).toHaveLength(9);
  });

  it("the approvals and breaker indexes batch their alerts too: a burst opens one batch, and every alert reaches the webhook", async () => {
    const tenant = tenantOf("indexburst");
    const hook = tenantOf("indexbursthook");
    const operator = await signIn(TEST_TOKENS.operator);
    await addWebhook(operator, tenant, hook, ["approval_requested", "breaker_opened"]);
    const now = Date.now();
    const pending = (n: number): ApprovalRecord => ({
      id: `apr_${"cd".repeat(32)}_${String(n).padStart(24, "0")}`,
      tenant,
      session_id: `s-${n}`,
      agent_id: "agent-7",
      action_hash: String(n).repeat(64).slice(0, 64),
      action_summary: JSON.stringify({ type: "tool_call", tool: "payments.refund" }),
      status: "pending",
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + 3_600_000).toISOString(),
      decided_by: null,
      decided_at: null,
      reason: null,
      used_by: null,
      used_at: null,
      version: 1,
    });
    // Each index keeps the flush it opens alive through its object's waitUntil: counted there, in the object.
    const opened = await runInDurableObject(approvalsIndex(env, tenant), async (instance, state) => {
      const flushes = keptAlive(state);
      // Four sessions' approvals in two upserts side by side, and one already known (no second alert for it).
      await Promise.all([instance.upsert([pending(1), pending(2)]), instance.upsert([pending(3), pending(4)])]);
      await instance.upsert([{ ...pending(1), version: 2 }]);
      await Promise.all(flushes);
      return flushes.length;
    });
    expect(opened).toBe(1);
    const breakersOpened = await runInDurableObject(breakerIndex(env, tenant), async (instance, state) => {
      const flushes = keptAlive(state);
      const report = (session: string) => ({ tenant, agent_id: "agent-7", session_id: session, state: "open" as const, opened_ms: now, reason: "3 denied actions within 300 s", cooldown_s: 0, version: 1 });
      expect(await Promise.all([instance.report(report("b-1")), instance.report(report("b-2"))])).toEqual([true, true]);
      // An older or equal report is not taken, and alerts nobody.
      expect(await instance.report(report("b-1"))).toBe(false);
      await Promise.all(flushes);
      return flushes.length;
    });
    expect(breakersOpened).toBe(1);
    const deliveries = await received(hook, 6);
    const events = deliveries.map((d) => JSON.parse(d.body) as { type: string; data: { approval_id?: string; session?: string } });
    expect(events.filter((e) => e.type === "approval_requested").map((e) => e.data.approval_id).sort()).toEqual([1, 2, 3, 4].map((n) => pending(n).id));
    expect(events.filter((e) => e.type === "breaker_opened").map((e) => e.data.session).sort()).toEqual(["b-1", "b-2"]);
    // Nothing more arrives: the known approval and the stale report raised no alert of their own.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await received(hook, 7, 0)).toHaveLength(6);
  });

  it("a batch is cut into messages the Queue takes; one it refuses is counted lost, and the batch's others still arrive", async () => {
    const tenant = tenantOf("refusedalert");
    const hook = tenantOf("refusedalerthook");
    const operator = await signIn(TEST_TOKENS.operator);
    await addWebhook(operator, tenant, hook, ["critical_deny"]);
    const event = (note: string) => alertEvent("critical_deny", tenant, `alert ${note.slice(0, 10)}`, "/console", { note });
    // Over the Queue's 128 KB message limit: the real Queue refuses that one.
    const batch = [event("first"), event("x".repeat(150_000)), event("last")];
    expect(intoAlertMessages(batch).map((m) => (m.kind === "events" ? m.events.map((e) => e.summary) : []))).toEqual([["alert first"], ["alert xxxxxxxxxx"], ["alert last"]]);
    const before = await counters();
    const flushes: Promise<unknown>[] = [];
    for (const alert of batch) queueAlert(env, alert, (work) => flushes.push(work));
    await Promise.all(flushes);
    const deliveries = await received(hook, 2);
    expect(deliveries.map((d) => (JSON.parse(d.body) as { summary: string }).summary).sort()).toEqual(["alert first", "alert last"]);
    expect((await counters()).alerts_lost - (before.alerts_lost ?? 0)).toBe(1);
  });

  it("the consumer fans out an edge's batch across tenants; what in a message is not an alert is counted lost, never thrown", async () => {
    const tenants = [tenantOf("fanout-a"), tenantOf("fanout-b")];
    const hooks = [tenantOf("fanouthook-a"), tenantOf("fanouthook-b")];
    for (const [i, tenant] of tenants.entries()) {
      const created = await alertsObject(env, tenant).create({ url: `${receiver}/hook/${hooks[i]}`, events: ["critical_deny"], format: "tollgate" }, "test");
      if (!created.ok) throw new Error(created.message);
    }
    const nested = JSON.parse("[".repeat(3000) + "]".repeat(3000));
    const bodies: unknown[] = [
      { kind: "events", events: [alertEvent("critical_deny", tenants[0], "a1", "/console", {}), { id: "x", tenant: tenants[0] }, alertEvent("critical_deny", tenants[1], "b1", "/console", {}), alertEvent("critical_deny", tenants[0], "a2", "/console", {}), nested] },
      { kind: "events", events: "not a list" },
      { kind: "event", event: null },
      { kind: "delivery", webhook_id: 7, event: { tenant: {} } },
      { kind: "something else" },
      null,
    ];
    const settled: string[] = [];
    const messages = bodies.map((body, i) => ({ id: `m-${i}`, timestamp: new Date(), attempts: 1, body, ack: () => settled.push(`${i}:ack`), retry: () => settled.push(`${i}:retry`) }));
    const before = await counters();
    await consumeAlerts({ queue: "tollgate-alerts", messages, ackAll: () => undefined, retryAll: () => undefined } as unknown as MessageBatch<AlertMessage>, env);
    expect(settled.sort()).toEqual(bodies.map((_, i) => `${i}:ack`).sort());
    // Two junk entries in the batch, and one for each of the five messages that carry no alert at all.
    expect((await counters()).alerts_lost - (before.alerts_lost ?? 0)).toBe(7);
    const first = await received(hooks[0], 2);
    const second = await received(hooks[1], 1);
    expect(first.map((d) => (JSON.parse(d.body) as { summary: string }).summary).sort()).toEqual(["a1", "a2"]);
    expect(second.map((d) => (JSON.parse(d.body) as { summary: string }).summary)).toEqual(["b1"]);
  });

  it("a receiver that keeps failing is retried with a doubling backoff, each attempt recorded, then given up", async () => {
    const tenant = tenantOf("fail");
    const hook = tenantOf("failhook");
    await fetch(`${receiver}/hook/${hook}/status`, { method: "PUT", body: "503" });
    const operator = await signIn(TEST_TOKENS.operator);
    await addWebhook(operator, tenant, hook, ["critical_deny"]);
    await decide(input(tenant, 100_000, uniqueId("s"), "critical"));
    const attempts = await received(hook, 5, 40_000);
    expect(attempts).toHaveLength(5);
    const deadline = Date.now() + 10_000;
    let record = await alertsObject(env, tenant).deliveries();
    while (!record.some((d) => d.outcome === "given_up") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      record = await alertsObject(env, tenant).deliveries();
    }
    const ordered = [...record].reverse();
    expect(ordered.map((d) => `${d.attempt}:${d.outcome}`)).toEqual(["1:failed", "2:failed", "3:failed", "4:failed", "5:given_up"]);
    expect(ordered.every((d) => d.http_status === 503)).toBe(true);
    // Each failure names when the next try is: 1 s, 2 s, 4 s, 8 s after it (ALERT_RETRY_BASE_SECONDS = 1 here).
    const waits = ordered.slice(0, 4).map((d) => Math.round((Date.parse(d.next_attempt_at!) - Date.parse(d.at)) / 1000));
    expect(waits).toEqual([1, 2, 4, 8]);
    expect(ordered[4].next_attempt_at).toBeNull();
    const page = await (await operator.get(`/console/alerts/${tenant}`)).text();
    expect(page).toContain("badge given_up");
  }, 60_000);

  it("only a tenant's operators configure its webhooks; auditors read; bad URLs and event lists are a 400", async () => {
    const auditor = await signIn(TEST_TOKENS.acmeAuditor);
    const page = await (await auditor.get("/console/alerts/acme")).text();
    expect(page).not.toContain("Add a webhook");
    const csrf = await auditor.csrf("/console/alerts/acme");
    expect((await auditor.post("/console/alerts/acme/webhooks", { _csrf: csrf, url: `${receiver}/hook/x`, events: "critical_deny" })).status).toBe(403);
    const initech = await signIn(TEST_TOKENS.initechEverything);
    expect((await initech.get("/console/alerts/acme")).status).toBe(403);
    expect((await admin("/alerts/acme/webhooks", TEST_TOKENS.initechEverything, { method: "POST", body: JSON.stringify({ url: "https://x.example/", events: ["critical_deny"] }) })).status).toBe(403);
    const operator = await signIn(TEST_TOKENS.acmeOperator);
    for (const body of [
      { url: "http://hooks.example.com/x", events: ["critical_deny"] },
      { url: "https://user:pass@hooks.example.com/x", events: ["critical_deny"] },
      { url: "ftp://hooks.example.com/x", events: ["critical_deny"] },
      { url: "https://hooks.example.com/x", events: [] },
      { url: "https://hooks.example.com/x", events: ["critical_deny", "critical_deny"] },
      { url: "https://hooks.example.com/x", events: ["everything"] },
    ]) {
      expect((await admin("/alerts/acme/webhooks", TEST_TOKENS.acmeOperator, { method: "POST", body: JSON.stringify(body) })).status, JSON.stringify(body)).toBe(400);
    }
    const nested = JSON.stringify({ url: "https://hooks.example.com/x", events: ["critical_deny"], format: JSON.parse("[".repeat(2000) + "]".repeat(2000)) });
    expect((await admin("/alerts/acme/webhooks", TEST_TOKENS.acmeOperator, { method: "POST", body: nested })).status).toBe(400);
    // Nothing inside a network: private, link-local, CGNAT, unique-local, IPv4-mapped, other spellings of them, internal names.
    for (const url of [
      "https://10.0.0.1/x",
      "https://169.254.169.254/latest/meta-data/",
      "https://192.168.1.1/",
      "https://172.16.0.1/",
      "https://100.64.0.1/",
      "https://[fd00::1]/",
      "https://[fe80::1]/",
      "https://[::ffff:10.0.0.1]/",
      "https://0x0a000001/",
      "https://167772161/",
      "https://metadata.google.internal/computeMetadata/v1/",
      "https://printer.local/",
      "https://router.home.arpa/",
      // The same names fully qualified, and IPv4 inside IPv6 as the parser writes it (::7f00:1), multicast.
      "https://metadata.google.internal./computeMetadata/v1/",
      "https://printer.local../",
      "https://[::127.0.0.1]/",
      "https://[::169.254.169.254]/",
      "https://[::a00:1]/",
      "https://[ff02::1]/",
      "https://[fec0::1]/",
    ]) {
      const refused = await admin("/alerts/acme/webhooks", TEST_TOKENS.acmeOperator, { method: "POST", body: JSON.stringify({ url, events: ["critical_deny"] }) });
      expect(refused.status, url).toBe(400);
      expect(await refused.json()).toMatchObject({ error: { code: "invalid_input", path: "url" } });
    }
    const viaForm = await operator.post("/console/alerts/acme/webhooks", { url: "https://169.254.169.254/", events: "critical_deny" }, { from: "/console/alerts/acme" });
    expect(viaForm.status).toBe(400);
    const form = await operator.post("/console/alerts/acme/webhooks", { url: "javascript:alert(1)" }, { from: "/console/alerts/acme" });
    expect(form.status).toBe(400);
    expect((await operator.post("/console/alerts/acme/webhooks/wh_nope/delete", {})).status).toBe(400);
    expect((await operator.post(`/console/alerts/acme/webhooks/wh_${"0".repeat(16)}/delete`, {})).status).toBe(404);
  });
});

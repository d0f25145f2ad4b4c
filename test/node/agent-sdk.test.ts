/**
 * The agent SDK as an agent uses it: the built `@tollgate/agent` package in
 * Node, against a real edge served from workerd on loopback, whose state
 * survives the edge being stopped and started mid-run. Decisions, guarded
 * tools, approvals, reused receipts and refused ones, retries that commit
 * once, and decisions made offline within the tiers, window, expiry and
 * budget lease the policy grants, spooled and uploaded exactly once.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApprovalRequired, Denied, FileSpoolStore, MemorySpoolStore, Tollgate, TollgateError, type TollgateEvent, type Decision } from "@tollgate/agent";
import { localPolicy } from "@tollgate/agent/offline";
import { adminCall } from "../../scripts/lib/admin-client.ts";
import { TEST_TOKENS } from "../fixtures/test-config.ts";
import { EdgeHarness, edgeForFile } from "./edge-harness.ts";

const { edge, work } = edgeForFile(18831);
let run = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${++run}`;

const read = { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } as const;
const search = { type: "tool_call", tool: "kb.search", args: { q: "refund policy" } } as const;
const refund = (amount: number) => ({ type: "tool_call", tool: "payments.refund", args: { amount, currency: "EUR" } }) as const;

/** fetch that counts what reaches the edge, and can be told to fail. */
function countingFetch() {
  const seen: Array<{ path: string; idempotencyKey: string | null }> = [];
  let breakNext: "before" | "after" | undefined;
  const fetcher: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    seen.push({ path: url.pathname, idempotencyKey: new Headers(init?.headers).get("idempotency-key") });
    const mode = breakNext;
    breakNext = undefined;
    if (mode === "before") throw new TypeError("fetch failed: connection reset");
    const response = await fetch(input, init);
    if (mode === "after") {
      await response.arrayBuffer();
      throw new TypeError("fetch failed: connection reset after the request was sent");
    }
    return response;
  };
  return { fetcher, seen, breakNext: (mode: "before" | "after") => (breakNext = mode) };
}

async function sessionView(tenant: string, agent: string, session: string) {
  return adminCall<{ usage: Record<string, number>; leases: Array<{ id: string; granted: Record<string, number>; spent: Record<string, number> }> }>(
    edge.admin(),
    "GET",
    `/sessions/${tenant}/${encodeURIComponent(agent)}/${encodeURIComponent(session)}`,
  );
}


describe("decisions through the SDK", () => {
  it("allows, denies and asks for approval; guard runs a tool only when allowed", async () => {
    const tenant = unique("sdk");
    const key = await edge.agentKey(tenant, "helper", "support");
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", offline: { spool: "memory" } });
    const allowed = await tg.check(read);
    expect(allowed).toMatchObject({ decision: "allow", allowed: true, source: "edge", tier: "low" });
    expect(allowed.receipt).toMatch(/^ey[\w-]+\.ey[\w-]+\.[\w-]+$/);

    let ran = 0;
    const refundTool = tg.guard(async (input: { amount: number; currency: string }) => ++ran && `refunded ${input.amount}`, { tool: "payments.refund" });
    const denied = await refundTool({ amount: 10, currency: "EUR" }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(denied).toBeInstanceOf(Denied);
    expect((denied as Denied).rules).toContain("tool_not_allowed_for_role");
    expect((denied as Denied).decisionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ran).toBe(0);

    const readTool = tg.guard(async (input: { id: string }) => `ticket ${input.id}`, { tool: "tickets.read" });
    expect(await readTool({ id: "T-9" })).toBe("ticket T-9");
  });

  it("waits for an approval, then re-submits with it and proceeds; a rejection is Denied", async () => {
    // The test deployment's approvers are acme's and initech's.
    const tenant = "initech";
    const key = await edge.agentKey(tenant, unique("finance-bot"), "finance");
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", offline: { spool: "memory" } });
    const asked = await tg.enforce(refund(900)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(asked).toBeInstanceOf(ApprovalRequired);
    const approval = asked as ApprovalRequired;
    expect(approval.approvalId).toMatch(/^apr_/);
    const waited = approval.wait({ timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    // Another tenant's approver cannot decide it.
    await expect(adminCall({ url: edge.url, token: TEST_TOKENS.acmeApprover }, "POST", `/approvals/${tenant}/${approval.approvalId}`, { decision: "approve", reason: "ok" })).rejects.toThrow();
    const approverToken = TEST_TOKENS.initechApprover;
    await adminCall({ url: edge.url, token: approverToken }, "POST", `/approvals/${tenant}/${approval.approvalId}`, { decision: "approve", reason: "customer verified" });
    const decided = await waited;
    expect(decided).toMatchObject({ decision: "allow", source: "edge" });

    const second = await tg.enforce(refund(950)).catch((error: ApprovalRequired) => error);
    expect(second).toBeInstanceOf(ApprovalRequired);
    const rejectedWait = (second as ApprovalRequired).wait({ timeoutMs: 20_000 });
    await adminCall({ url: edge.url, token: approverToken }, "POST", `/approvals/${tenant}/${(second as ApprovalRequired).approvalId}`, { decision: "reject", reason: "no" });
    const rejected = await rejectedWait.catch((error: unknown) => error);
    expect(rejected).toBeInstanceOf(Denied);
    expect((rejected as Denied).rules).toContain("approval_rejected");
  });

  it("refuses a malformed action with a TollgateError, not an offline decision", async () => {
    const key = await edge.agentKey(unique("bad"), "helper");
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", offline: { spool: "memory" } });
    const error = await tg.check({ type: "tool_call" } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TollgateError);
    expect((error as TollgateError).status).toBe(400);
    const unauthenticated = await new Tollgate({ url: edge.url, credential: "tgk_nobody_k0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", session: "s", offline: { spool: "memory" } })
      .check(read)
      .catch((e: unknown) => e);
    expect((unauthenticated as TollgateError).status).toBe(401);
  });

  it("retries a lost answer with the same Idempotency-Key, and the session is debited once", async () => {
    const tenant = unique("retry");
    const key = await edge.agentKey(tenant, "helper");
    const wire = countingFetch();
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", fetch: wire.fetcher, offline: { spool: "memory" }, cache: false });
    wire.breakNext("after");
    const decision = await tg.check(read);
    expect(decision.source).toBe("edge");
    const attempts = wire.seen.filter((call) => call.path === "/v1/decide");
    expect(attempts).toHaveLength(2);
    expect(attempts[0].idempotencyKey).toBeTruthy();
    expect(attempts[1].idempotencyKey).toBe(attempts[0].idempotencyKey);
    expect((await sessionView(tenant, "helper", "s-1")).usage.api_calls).toBe(1);
  });
});

describe("receipts in the SDK", () => {
  it("reuses an allowed free read until its receipt expires, without a round trip; never a one-time decision", async () => {
    const tenant = unique("cache");
    const key = await edge.agentKey(tenant, "helper");
    const wire = countingFetch();
    const events: TollgateEvent[] = [];
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", fetch: wire.fetcher, offline: { spool: "memory" }, onEvent: (e) => events.push(e) });
    const first = await tg.check(search, { tier: "low" });
    expect(first.source).toBe("edge");
    const decides = () => wire.seen.filter((call) => call.path === "/v1/decide").length;
    const before = decides();
    const second = await tg.check(search, { tier: "low" });
    expect(second).toMatchObject({ source: "cache", id: first.id, decision: "allow", receipt: first.receipt });
    expect(decides()).toBe(before);
    // Another session, another action, or a plain read: to the edge.
    expect((await tg.check(search, { tier: "low", session: "s-2" })).source).toBe("edge");
    expect((await tg.check({ ...search, args: { q: "other" } }, { tier: "low" })).source).toBe("edge");
    await tg.check(read);
    expect((await tg.check(read)).source).toBe("edge");
    expect(events.filter((e) => e.type === "receipt_refused")).toEqual([]);
  });

  it("reuses no decision once the agent has read data of a new class: they were made without it", async () => {
    const tenant = unique("cache-taint");
    const key = await edge.agentKey(tenant, "helper");
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", offline: { spool: "memory" } });
    expect((await tg.check(search, { tier: "low" })).source).toBe("edge");
    expect((await tg.check(search, { tier: "low" })).source).toBe("cache");
    await tg.reportDataClasses("s-2", ["pii"]);
    expect((await tg.check(search, { tier: "low" })).source).toBe("edge");
    // A class already reported changes nothing: the new decision is reused again.
    await tg.reportDataClasses("s-2", ["pii"]);
    expect((await tg.check(search, { tier: "low" })).source).toBe("cache");
  });

  it("does not reuse a decision whose receipt was tampered with, or is another action's or another tenant's", async () => {
    const tenant = unique("forged");
    const key = await edge.agentKey(tenant, "helper");
    const other = await edge.agentKey(unique("other"), "helper");
    // Receipts the attacker would like to substitute: another tenant's, and another action's.
    const foreign = (await new Tollgate({ url: edge.url, credential: other, session: "s-1", offline: { spool: "memory" } }).check(search, { tier: "low" })).receipt!;
    const otherAction = (await new Tollgate({ url: edge.url, credential: key, session: "s-1", offline: { spool: "memory" } }).check({ ...search, args: { q: "x" } }, { tier: "low" })).receipt!;
    const flip = (receipt: string) => receipt.slice(0, 40) + (receipt[40] === "A" ? "B" : "A") + receipt.slice(41);
    for (const substitute of [flip, () => foreign, () => otherAction]) {
      const events: TollgateEvent[] = [];
      const swapping: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input instanceof Request ? input.url : input).endsWith("/v1/decide")) return response;
        const body = (await response.json()) as { receipt: string };
        return Response.json({ ...body, receipt: substitute(body.receipt) });
      };
      const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", fetch: swapping, offline: { spool: "memory" }, onEvent: (e) => events.push(e) });
      expect((await tg.check(search, { tier: "low" })).source).toBe("edge");
      expect(events.some((e) => e.type === "receipt_refused")).toBe(true);
      expect((await tg.check(search, { tier: "low" })).source).toBe("edge");
    }
  });
});

describe("offline decisions", () => {
  it("keeps deciding within the lease while the edge is down, spools, and uploads exactly once when it is back", async () => {
    const tenant = unique("offline");
    await edge.publish(`tenant:${tenant}`, { sourceDir: join(import.meta.dirname, "..", "fixtures", "offline-tenant") });
    const key = await edge.agentKey(tenant, "helper", "support");
    const spoolFile = join(work, `${tenant}.jsonl`);
    const events: TollgateEvent[] = [];
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", timeoutMs: 1_000, retries: 1, offline: { policy: localPolicy(), spool: new FileSpoolStore(spoolFile) }, onEvent: (e) => events.push(e) });
    const online = await tg.check(read);
    expect(online.source).toBe("edge");
    await tg.idle();
    const lease = events.find((e) => e.type === "lease_granted");
    // 1% of the support role's 500 calls, less the one already made: 4 calls may be made offline.
    expect(lease).toMatchObject({ type: "lease_granted", granted: { api_calls: 4 } });
    // The agent holds its own composition only: the global layer and its tenant's, never another tenant's.
    const bundle = (await tg.transport.call("GET", "/v1/policy/bundle")).body as { layers: Array<{ manifest: { document: { scope: string } } }> };
    expect(bundle.layers.map((layer) => layer.manifest.document.scope)).toEqual(["global", `tenant:${tenant}`]);

    await edge.stop();
    const offline: Decision[] = [];
    for (let i = 0; i < 4; i++) offline.push(await tg.check({ ...read, args: { id: `T-${i}` } }));
    expect(offline.map((d) => [d.source, d.decision])).toEqual(Array(4).fill(["offline", "allow"]));
    expect(offline[0].id).toMatch(/^off-/);
    // The fifth would spend more than the lease.
    const fifth = await tg.check({ ...read, args: { id: "T-5" } });
    expect(fifth).toMatchObject({ source: "offline", decision: "deny" });
    expect(fifth.rules).toContain("budget_lease_exhausted");
    // A free read draws on nothing; a tool the role may not use is denied by the policy itself, offline too.
    expect(await tg.check(search, { tier: "low" })).toMatchObject({ source: "offline", decision: "allow" });
    const critical = await tg.check({ type: "tool_call", tool: "shell.exec", args: { command: "ls" } });
    expect(critical).toMatchObject({ source: "fail_mode", decision: "deny" });
    expect(critical.rules).toEqual(["offline_not_permitted", "edge_unreachable"]);
    const spooled = readFileSync(spoolFile, "utf8").trim().split("\n");
    expect(spooled).toHaveLength(7);

    await edge.start();
    const back = await tg.check(read);
    expect(back.source).toBe("edge");
    await tg.idle();
    expect(readFileSync(spoolFile, "utf8")).toBe("");
    expect(events).toContainEqual({ type: "spool_uploaded", accepted: 7, refused: 0, corrupt: 0 });
    const records = await edge.auditRecords(tenant);
    const offlineRecords = records.filter((r) => r.offline);
    expect(offlineRecords).toHaveLength(7);
    expect(new Set(offlineRecords.map((r) => r.decision_id)).size).toBe(7);
    expect(offlineRecords.filter((r) => r.offline.source === "local_policy" && r.decision === "allow")).toHaveLength(5);
    // Two online decisions, four offline calls from the lease; the free search cost nothing.
    const view = await sessionView(tenant, "helper", "s-1");
    expect(view.usage.api_calls).toBe(6);
    // The spent lease was released and a new one granted from what remains.
    expect(view.leases).toHaveLength(1);
    expect(view.leases[0].id).not.toBe((lease as { lease_id: string }).lease_id);
    await tg.close();
  }, 180_000);

  /** A tenant of its own with the offline layer, and a client of its support agent `agent` that decides offline with the policy it holds. */
  async function offlineClient(name: string, agent: string, options: { onEvent?: (event: TollgateEvent) => void } = {}) {
    const tenant = unique(name);
    await edge.publish(`tenant:${tenant}`, { sourceDir: join(import.meta.dirname, "..", "fixtures", "offline-tenant") });
    const key = await edge.agentKey(tenant, agent, "support");
    return { key, tg: new Tollgate({ url: edge.url, credential: key, session: "s-1", timeoutMs: 1_000, retries: 1, offline: { policy: localPolicy(), spool: "memory" }, ...options }) };
  }
  const mail = { type: "tool_call", tool: "email.send", args: { to: "someone@example.test" } } as const;
  /** An external tool after a read of PII, decided offline: the approval it needs is a denial there. */
  function expectTaintDenied(decision: Decision) {
    expect(decision).toMatchObject({ source: "offline", decision: "deny" });
    expect(decision.rules).toEqual(expect.arrayContaining(["session_data_to_external_tool", "approval_unavailable_offline"]));
  }

  it("decides offline no looser than the edge: by the classes any of this client's sessions read, and no spawn it cannot credential", async () => {
    const { tg } = await offlineClient("offline-taint", "mailer");
    expect(await tg.check(mail)).toMatchObject({ source: "edge", decision: "allow" });
    await tg.idle();
    // Another session of this agent read PII.
    await tg.reportDataClasses("s-2", ["pii"]);
    await edge.stop();
    try {
      expectTaintDenied(await tg.check({ ...mail, args: { to: "other@example.test" } }));
      // What stays inside is decided offline as before.
      expect(await tg.check({ ...read, args: { id: "T-7" } })).toMatchObject({ source: "offline", decision: "allow" });
      // A spawn the policy allows is denied offline: no one can mint the sub-agent's credential.
      const spawn = await tg.check({ type: "spawn_agent", spawn: { agent_id: "helper-1", role: "support", scopes: [] } });
      expect(spawn).toMatchObject({ source: "offline", decision: "deny", rules: ["delegation_unavailable_offline"] });
    } finally {
      await edge.start();
    }
    // The edge, told of the class, judges the same.
    expect(await tg.check({ ...mail, args: { to: "third@example.test" } })).toMatchObject({ source: "edge", decision: "require_approval" });
    await tg.close();
  }, 180_000);

  it("decides offline by what the agent's other processes read too, as the edge last said", async () => {
    const events: TollgateEvent[] = [];
    const { key, tg } = await offlineClient("other-process", "worker", { onEvent: (e) => events.push(e) });
    // Another process of the same agent read PII, in a session of its own.
    await new Tollgate({ url: edge.url, credential: key, session: "s-reader" }).reportDataClasses("s-reader", ["pii"]);
    expect(await tg.check(read)).toMatchObject({ source: "edge", decision: "allow" });
    await tg.idle();
    expect(events.filter((e) => e.type === "background_error")).toEqual([]);
    await edge.stop();
    try {
      expectTaintDenied(await tg.check(mail));
    } finally {
      await edge.start();
    }
    await tg.close();
  }, 180_000);

  it("reports again the classes the edge did not take, once it is back, so the agent's other sessions are bound too", async () => {
    const tenant = unique("report");
    const key = await edge.agentKey(tenant, "reporter", "support");
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", timeoutMs: 1_000, retries: 1 });
    expect((await tg.check(read)).source).toBe("edge");
    await tg.idle();
    await edge.stop();
    // The edge is down: the report is kept, and this session's decisions carry it meanwhile.
    await tg.reportDataClasses("s-1", ["pii"]);
    await edge.start();
    expect((await tg.check(read)).source).toBe("edge");
    await tg.idle();
    // Another session of the same agent, from another process, is bound by what the first one read.
    const elsewhere = await new Tollgate({ url: edge.url, credential: key, session: "s-2" }).check({ type: "tool_call", tool: "email.send", args: { to: "a@example.test" } });
    expect(elsewhere.decision).toBe("require_approval");
    expect(elsewhere.rules).toContain("session_data_to_external_tool");
    await tg.close();
  }, 180_000);

  it("holds a pinned tenant's composition with the region its requests come from as well, and decides offline with it", async () => {
    // An edge whose requests come from the US (EDGE_REGION), for a tenant pinned to the EU: the pin adds
    // the EU's layer and keeps the US one, and the agent's held policy must be that same composition.
    const regional = new EdgeHarness(18833, { EDGE_REGION: "us" });
    try {
      await regional.start();
      for (const scope of ["global", "region:eu", "region:us", "tenant:globex"]) await regional.publish(scope);
      const key = await regional.agentKey("globex", "helper", "support");
      const events: TollgateEvent[] = [];
      const tg = new Tollgate({ url: regional.url, credential: key, session: "s-1", timeoutMs: 1_000, retries: 1, offline: { policy: localPolicy(), spool: "memory" }, onEvent: (e) => events.push(e) });
      const online = await tg.check(read);
      expect(online).toMatchObject({ source: "edge", decision: "allow" });
      await tg.idle();
      const bundle = (await tg.transport.call("GET", "/v1/policy/bundle")).body as { region: string; located_region?: string; layers: Array<{ manifest: { document: { scope: string } } }> };
      expect(bundle).toMatchObject({ region: "eu", located_region: "us" });
      expect(bundle.layers.map((layer) => layer.manifest.document.scope)).toEqual(["global", "region:eu", "region:us", "tenant:globex"]);
      expect(events.find((e) => e.type === "background_error")).toBeUndefined();
      expect(events.some((e) => e.type === "policy_refreshed")).toBe(true);
      await regional.stop();
      const offline = await tg.check({ ...read, args: { id: "T-2" } });
      expect(offline).toMatchObject({ source: "offline", decision: "allow" });
      await regional.start();
      await tg.close();
    } finally {
      await regional.dispose();
    }
  }, 300_000);

  it("uploads a spool whose upload was cut off midway exactly once, from a new process", async () => {
    const tenant = unique("crash");
    await edge.publish(`tenant:${tenant}`, { sourceDir: join(import.meta.dirname, "..", "fixtures", "offline-tenant") });
    const key = await edge.agentKey(tenant, "helper", "support");
    const spoolFile = join(work, `${tenant}.jsonl`);
    const first = new Tollgate({ url: edge.url, credential: key, session: "s-1", timeoutMs: 1_000, retries: 0, offline: { policy: localPolicy(), spool: new FileSpoolStore(spoolFile) } });
    await first.check(read);
    await first.idle();
    await edge.stop();
    for (let i = 0; i < 3; i++) expect((await first.check({ ...read, args: { id: `C-${i}` } })).source).toBe("offline");
    await edge.start();
    // The upload reaches the edge, which records it, but the answer is lost: the process dies before acknowledging.
    const wire = countingFetch();
    const crashing = new Tollgate({ url: edge.url, credential: key, session: "s-1", fetch: wire.fetcher, retries: 0, offline: { spool: new FileSpoolStore(spoolFile) } });
    wire.breakNext("after");
    await expect(crashing.sync()).rejects.toThrow();
    expect(readFileSync(spoolFile, "utf8").trim().split("\n")).toHaveLength(3);
    // A new process with the same spool sends everything again.
    const restarted = new Tollgate({ url: edge.url, credential: key, session: "s-1", offline: { spool: new FileSpoolStore(spoolFile) } });
    await restarted.sync();
    expect(readFileSync(spoolFile, "utf8")).toBe("");
    const records = (await edge.auditRecords(tenant)).filter((r) => r.offline);
    expect(records).toHaveLength(3);
    expect((await sessionView(tenant, "helper", "s-1")).usage.api_calls).toBe(4);
  }, 180_000);

  it("stops deciding locally once the offline window has passed", async () => {
    const tenant = unique("window");
    await edge.publish(`tenant:${tenant}`, { sourceDir: join(import.meta.dirname, "..", "fixtures", "short-window-tenant") });
    const key = await edge.agentKey(tenant, "helper", "support");
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", timeoutMs: 500, retries: 0, offline: { policy: localPolicy(), spool: new MemorySpoolStore() } });
    await tg.check(read);
    await tg.idle();
    await edge.stop();
    expect((await tg.check({ ...read, args: { id: "W-1" } })).source).toBe("offline");
    await new Promise((r) => setTimeout(r, 5_500));
    const late = await tg.check({ ...read, args: { id: "W-2" } });
    // Low risk fails open by the global policy's data: allowed, but by the fail mode, and said so.
    expect(late).toMatchObject({ source: "fail_mode", decision: "allow" });
    expect(late.rules).toEqual(["offline_window_passed", "edge_unreachable"]);
    await edge.start();
  }, 180_000);

  it("decides locally exactly as the edge decides, on every scenario", async () => {
    const scenarios = (JSON.parse(readFileSync(join(import.meta.dirname, "..", "fixtures", "scenarios.json"), "utf8")) as { scenarios: Array<{ name: string; input: any }> }).scenarios;
    const tenant = unique("same");
    const policy = localPolicy();
    const keys = new Map<string, string>();
    let compared = 0;
    for (const scenario of scenarios) {
      const role = scenario.input.agent?.role ?? "support";
      if (scenario.input.agent?.delegation_depth) continue;
      const agent = `agent-${role}`;
      if (!keys.has(role)) keys.set(role, await edge.agentKey(tenant, agent, role));
      const tg = new Tollgate({ url: edge.url, credential: keys.get(role)!, session: unique("fid"), offline: { spool: "memory" }, cache: false });
      const body = { session: { id: unique("fid"), usage: scenario.input.session?.usage }, action: scenario.input.action, risk_tier: scenario.input.risk_tier };
      const response = (await tg.transport.call("POST", "/v1/decide", { body })).body as Record<string, any>;
      await policy.refresh(tg.transport, Date.now());
      const local = await policy.held()!.evaluate({ identity: response.identity, session: body.session, action: body.action, tier: body.risk_tier, nowMs: Date.now() });
      // The policy's own answer, before the session object had its say.
      const policyVerdict = response.session?.changed?.from ?? response.decision;
      const sessionRules = new Set((response.session?.reasons ?? []).map((r: { rule: string }) => r.rule));
      const policyRules = response.reasons.map((r: { rule: string }) => r.rule).filter((rule: string) => !sessionRules.has(rule));
      expect({ scenario: scenario.name, decision: local.decision, rules: local.reasons.map((r) => r.rule), tier: local.tier }).toEqual({
        scenario: scenario.name,
        decision: policyVerdict,
        rules: policyRules,
        tier: response.risk.tier,
      });
      compared++;
    }
    expect(compared).toBeGreaterThan(30);
  }, 180_000);

  // Last: the expired layer stays in the store's snapshot.
  it("stops deciding locally past a layer's expiry", async () => {
    const expiring = unique("expiry");
    await edge.publish(`tenant:${expiring}`, { sourceDir: join(import.meta.dirname, "..", "fixtures", "offline-tenant"), expiresInDays: 12 / 86_400 });
    // The layer is signed after it is built, so its 12 s run from some time before publish returns, not before it began.
    const publishedAt = Date.now();
    const key = await edge.agentKey(expiring, "helper", "support");
    const tg = new Tollgate({ url: edge.url, credential: key, session: "s-1", timeoutMs: 500, retries: 0, offline: { policy: localPolicy(), spool: new MemorySpoolStore() } });
    await tg.check(read);
    await tg.idle();
    await edge.stop();
    expect((await tg.check({ ...read, args: { id: "E-1" } })).source).toBe("offline");
    await new Promise((r) => setTimeout(r, Math.max(0, publishedAt + 12_500 - Date.now())));
    const expired = await tg.check({ ...read, args: { id: "E-2" } });
    expect(expired.source).toBe("fail_mode");
    expect(expired.rules).toEqual(["policy_expired", "edge_unreachable"]);
    await edge.start();
  }, 180_000);
});

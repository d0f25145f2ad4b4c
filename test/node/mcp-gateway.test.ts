/**
 * The MCP gateway end to end over loopback, with the official TypeScript
 * SDK on both sides: an agent's MCP client (@modelcontextprotocol/client)
 * pointed at its edge's /mcp/<server> instead of at the tool server, and an
 * upstream built with @modelcontextprotocol/server. The edge is served from
 * workerd as `npm start` serves it; agents, keys and upstreams are
 * registered through the admin API as an operator would.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, StreamableHTTPClientTransport, UrlElicitationRequiredError } from "@modelcontextprotocol/client";
import { bundleEdge, startEdge, type RunningEdge } from "../../scripts/lib/edge-server.ts";
import { auditRecordsOnceWritten } from "../fixtures/audit-records.ts";
import { TEST_TOKENS, testStoreBindings } from "../fixtures/test-config.ts";
import { startDispatcher, startGarbage, startHelpdesk, startIdRouter, UPSTREAM_KEY, type RunningUpstream } from "../fixtures/mcp-upstream.ts";

let edge: RunningEdge;
let helpdesk: RunningUpstream;
let garbage: { url: string; close(): Promise<void> };
let dispatcher: { url: string; received: string[]; close(): Promise<void> };
let router: { url: string; ids: unknown[]; close(): Promise<void> };
const keys: Record<string, string> = {};

async function admin(path: string, init: RequestInit = {}, token: string = TEST_TOKENS.registrar): Promise<Response> {
  return fetch(new URL(`/v1/admin${path}`, edge.url), { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers as Record<string, string>) } });
}

async function registerAgent(tenant: string, agent: string, role: string): Promise<string> {
  const registered = await admin(`/registry/${tenant}/agents/${agent}`, {
    method: "PUT",
    body: JSON.stringify({ owner: "ops@example.test", role, max_risk_tier: "high", certified_until: "2099-01-01" }),
  });
  expect(registered.status, await registered.clone().text()).toBeLessThan(300);
  const key = await admin(`/registry/${tenant}/agents/${agent}/keys`, { method: "POST", body: "{}" });
  return ((await key.json()) as { key: string }).key;
}

const HELPDESK_TOOLS = {
  read_ticket: { tool: "tickets.read" },
  lookup_customer: { tool: "crm.read_customer", data_classes: ["pii"] },
  customer_history: { tool: "crm.read_customer", data_classes: ["pii"] },
  customer_export: { tool: "crm.read_customer", data_classes: ["pii"] },
  send_email: { tool: "email.send" },
  run_shell: { tool: "shell.exec" },
  refund: { tool: "payments.refund" },
  slow_report: { tool: "kb.search" },
  summarize_ticket: { tool: "tickets.read" },
};

/** Resources by URI prefix and prompts by name, judged as tools; payroll:// and unmapped_prompt are left out. */
const HELPDESK_RESOURCES = {
  "tickets://": { tool: "tickets.read" },
  "customers://": { tool: "crm.read_customer", data_classes: ["pii"] },
  "web://": { tool: "web.fetch" },
};
const HELPDESK_PROMPTS = { triage: { tool: "tickets.read" } };

async function registerServer(tenant: string, name: string, url: string, extra: Record<string, unknown> = {}): Promise<Response> {
  return admin(`/mcp/${tenant}/servers/${name}`, {
    method: "PUT",
    body: JSON.stringify({ url, tools: HELPDESK_TOOLS, resources: HELPDESK_RESOURCES, prompts: HELPDESK_PROMPTS, credentials: { headers: { "x-upstream-key": UPSTREAM_KEY } }, ...extra }),
  });
}

async function connect(agentKey: string, server = "helpdesk", options: { urlElicitation?: boolean; headers?: Record<string, string> } = {}): Promise<Client> {
  const client = new Client({ name: "agent", version: "1.0.0" }, { capabilities: options.urlElicitation ? { elicitation: { url: {} } } : {} });
  const transport = new StreamableHTTPClientTransport(new URL(`/mcp/${server}`, edge.url), { requestInit: { headers: { authorization: `Bearer ${agentKey}`, ...options.headers } } });
  await client.connect(transport);
  return client;
}

let agents = 0;
/** A support agent of acme of its own, for a test whose agent must not have read anything yet. */
const freshAgent = () => registerAgent("acme", `mcp-fresh-${Date.now().toString(36)}-${++agents}`, "support");

type RpcError = { error: { code: number; message: string } };

type AuditRecord = { decision_id: string; tool: string; decision: string; mcp?: Record<string, unknown> };

/** Acme's audit records that match, once the log holds `count` of them. */
const auditRecords = (match: (record: AuditRecord) => boolean, count = 2) => auditRecordsOnceWritten(edge.url, "acme", match, count);

const textOf = (result: { content?: unknown }) => ((result.content as Array<{ text?: string }>) ?? []).map((c) => c.text ?? "").join("\n");
const decisionOf = (result: { _meta?: Record<string, unknown> }) => result._meta?.["tollgate/decision"] as { receipt?: string; decision_id: string; decision: string; rules: string[]; approval?: { id: string; url: string; status: string }; upstream?: { fault: string; fail_mode: string } };

beforeAll(async () => {
  bundleEdge();
  [helpdesk, garbage, dispatcher, router] = await Promise.all([startHelpdesk(), startGarbage(), startDispatcher(), startIdRouter()]);
  edge = await startEdge({ port: 18841, vars: testStoreBindings() });
  keys.helper = await registerAgent("acme", "mcp-helper", "support");
  keys.payer = await registerAgent("acme", "mcp-payer", "finance");
  keys.admin = await registerAgent("acme", "mcp-admin", "admin");
  keys.other = await registerAgent("initech", "mcp-helper", "support");
  for (const [tenant, name, url, extra] of [
    ["acme", "helpdesk", helpdesk.url, {}],
    ["initech", "helpdesk", helpdesk.url, {}],
    ["acme", "slowdesk", helpdesk.url, { timeout_ms: 600 }],
    ["acme", "junk", garbage.url, { credentials: undefined }],
    ["acme", "dispatcher", dispatcher.url, { credentials: undefined }],
    ["acme", "router", router.url, { credentials: undefined }],
    ["acme", "gone", "http://127.0.0.1:9/mcp", {}],
    // The same helpdesk, whose answers to its sampling requests are judged as an internal and an external tool.
    ["acme", "sampler", helpdesk.url, { answers: { tool: "kb.search" } }],
    ["acme", "outbound", helpdesk.url, { answers: { tool: "email.send" } }],
  ] as const) {
    const response = await registerServer(tenant, name, url, extra);
    expect(response.status, await response.clone().text()).toBe(201);
  }
}, 180_000);

afterAll(async () => {
  await edge?.dispose();
  await helpdesk?.close();
  await garbage?.close();
  await dispatcher?.close();
  await router?.close();
});

describe("the upstream registry", () => {
  it("never shows a credential again, and refuses another tenant's administrator", async () => {
    const shown = await (await admin("/mcp/acme/servers/helpdesk")).json();
    expect(shown).toMatchObject({ server: "helpdesk", url: helpdesk.url, credentials: "stored", updated_by: "identity-team" });
    expect(JSON.stringify(shown)).not.toContain(UPSTREAM_KEY);
    const listed = await (await admin("/mcp/acme/servers")).text();
    expect(listed).not.toContain(UPSTREAM_KEY);
    expect((await admin("/mcp/acme/servers", {}, TEST_TOKENS.initechEverything)).status).toBe(403);
    expect((await admin("/mcp/acme/servers/helpdesk", { method: "DELETE" }, TEST_TOKENS.acmeAuditor)).status).toBe(403);
    expect((await admin("/mcp/acme/servers", {}, "")).status).toBe(401);
  });

  it("refuses a malformed registration with a 400 naming the field", async () => {
    const bad = async (body: unknown) => admin("/mcp/acme/servers/bad", { method: "PUT", body: JSON.stringify(body) });
    const noUrl = await bad({ tools: {} });
    expect(noUrl.status).toBe(400);
    expect(await noUrl.json()).toMatchObject({ error: { code: "invalid_input", path: "url" } });
    const reserved = await bad({ url: helpdesk.url, tools: {}, credentials: { headers: { "mcp-session-id": "x" } } });
    expect(reserved.status).toBe(400);
    const spacedPrefix = await bad({ url: helpdesk.url, tools: {}, resources: { "tickets:// open": { tool: "tickets.read" } } });
    expect(spacedPrefix.status).toBe(400);
    expect(await spacedPrefix.json()).toMatchObject({ error: { code: "invalid_input", path: expect.stringMatching(/^resources/) } });
    const unnamedPrompt = await bad({ url: helpdesk.url, tools: {}, prompts: { triage: { risk_floor: "low" } } });
    expect(unnamedPrompt.status).toBe(400);
    expect(await unnamedPrompt.json()).toMatchObject({ error: { code: "invalid_input", path: expect.stringMatching(/^prompts/) } });
    // Answers bring nothing into the session, so a mapping for them names no data classes; and it names its tool.
    for (const answers of [{ tool: "kb.search", data_classes: ["pii"] }, { risk_floor: "low" }, { tool: "" }, "kb.search"]) {
      const badAnswers = await bad({ url: helpdesk.url, tools: {}, answers });
      expect(badAnswers.status, JSON.stringify(answers)).toBe(400);
      expect(await badAnswers.json()).toMatchObject({ error: { code: "invalid_input", path: expect.stringMatching(/^answers/) } });
    }
    const deep = await admin("/mcp/acme/servers/bad", { method: "PUT", body: `${"[".repeat(5000)}${"]".repeat(5000)}` });
    expect(deep.status).toBe(400);
    expect((await admin("/mcp/acme/servers/Bad!", { method: "PUT", body: "{}" })).status).toBe(400);
  });
});

describe("stored credentials stay with their upstream", () => {
  it("moving a server to another origin needs its credentials again: an update that only changes the URL is refused", async () => {
    expect((await registerServer("acme", "movable", helpdesk.url)).status).toBe(201);
    const update = (url: string, extra: Record<string, unknown> = {}) =>
      admin("/mcp/acme/servers/movable", { method: "PUT", body: JSON.stringify({ url, tools: HELPDESK_TOOLS, ...extra }) });
    const elsewhere = new URL(helpdesk.url);
    elsewhere.port = new URL(garbage.url).port;
    for (const url of [elsewhere.href, helpdesk.url.replace("http://127.0.0.1", "http://localhost")]) {
      const moved = await update(url);
      expect(moved.status).toBe(409);
      expect(await moved.json()).toMatchObject({ error: { code: "credentials_bound_to_origin" } });
    }
    // Still registered where it was, its credential still sent there.
    const refused = helpdesk.refused;
    const client = await connect(keys.helper, "movable");
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    expect(helpdesk.refused).toBe(refused);
    // The same origin keeps them; another origin takes them only sent again, or cleared.
    expect(await (await update(`${helpdesk.url}?v=2`)).json()).toMatchObject({ credentials: "stored" });
    expect(await (await update(elsewhere.href, { clear_credentials: true })).json()).toMatchObject({ url: elsewhere.href, credentials: "none" });
    expect(await (await update(helpdesk.url, { credentials: { headers: { "x-upstream-key": UPSTREAM_KEY } } })).json()).toMatchObject({ credentials: "stored" });
    const changes = (await (await admin("/mcp/acme/changes")).json()) as { changes: Array<{ action: string; server: string }> };
    expect(changes.changes.filter((change) => change.server === "movable").map((change) => change.action)).toContain("server_moved");
    expect((await admin("/mcp/acme/servers/movable", { method: "DELETE" })).status).toBe(200);
  });
});

describe("tollgate mcp", () => {
  it("sends a rotated credential from the next call on, in a session opened before the rotation", async () => {
    expect((await registerServer("acme", "rotating", helpdesk.url)).status).toBe(201);
    const client = await connect(keys.helper, "rotating");
    expect(textOf(await client.callTool({ name: "read_ticket", arguments: { id: "T-8" } }))).toContain("T-8");
    const refusedBefore = helpdesk.refused;
    const rotated = await registerServer("acme", "rotating", helpdesk.url, { credentials: { headers: { "x-upstream-key": "a-key-the-upstream-refuses" } } });
    expect(rotated.status).toBeLessThan(300);
    const refused = await client.callTool({ name: "read_ticket", arguments: { id: "T-9" } });
    expect(refused.isError).toBe(true);
    expect(helpdesk.refused).toBe(refusedBefore + 1);
    await client.close();
    expect((await admin("/mcp/acme/servers/rotating", { method: "DELETE" })).status).toBeLessThan(300);
  });

  it("registers a server from files, lists it without its credential, and removes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-mcp-"));
    writeFileSync(join(dir, "tools.json"), JSON.stringify({ read_ticket: { tool: "tickets.read" } }));
    writeFileSync(join(dir, "headers.json"), JSON.stringify({ "x-upstream-key": UPSTREAM_KEY }));
    writeFileSync(join(dir, "resources.json"), JSON.stringify({ "tickets://": { tool: "tickets.read" } }));
    writeFileSync(join(dir, "prompts.json"), JSON.stringify({ triage: { tool: "tickets.read" } }));
    // Asynchronously: this process also serves the upstream, which must keep answering while the CLI runs.
    const cli = (args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
        execFile(process.execPath, ["bin/tollgate.mjs", "mcp", ...args], { encoding: "utf8", env: { ...process.env, TOLLGATE_URL: edge.url.origin, TOLLGATE_TOKEN: TEST_TOKENS.registrar } }, (error, stdout, stderr) =>
          resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const added = await cli(["add", "--tenant", "acme", "--server", "cli-desk", "--upstream", helpdesk.url, "--tools", join(dir, "tools.json"), "--resources", join(dir, "resources.json"), "--prompts", join(dir, "prompts.json"), "--answers", "kb.search", "--credentials", join(dir, "headers.json"), "--timeout-ms", "2000"]);
    expect(added.status, added.stderr).toBe(0);
    expect(added.stdout).toContain("registered cli-desk");
    expect(added.stdout).toContain("read_ticket→tickets.read");
    expect(added.stdout).toContain("resources tickets://→tickets.read");
    expect(added.stdout).toContain("prompts triage→tickets.read");
    expect(added.stdout).toContain("answers →kb.search");
    const listed = await cli(["list", "--tenant", "acme"]);
    expect(listed.stdout).toContain("cli-desk");
    expect(listed.stdout).toContain("credentials stored");
    // A server registered without answers says so.
    expect(listed.stdout).toMatch(/helpdesk .* answers refused/);
    expect(listed.stdout + listed.stderr).not.toContain(UPSTREAM_KEY);
    const client = await connect(keys.helper, "cli-desk");
    expect(textOf(await client.callTool({ name: "read_ticket", arguments: { id: "T-5" } }))).toContain("T-5");
    expect(JSON.stringify((await client.readResource({ uri: "tickets://open" })).contents)).toContain("printer on fire");
    await client.close();
    expect((await cli(["remove", "--tenant", "acme", "--server", "cli-desk"])).status).toBe(0);
    await expect(connect(keys.helper, "cli-desk")).rejects.toThrow();
    expect((await cli(["changes", "--tenant", "acme"])).stdout).toMatch(/identity-team {2}server_removed {2}cli-desk/);
    const missing = await cli(["add", "--tenant", "acme", "--server", "x"]);
    expect(missing.status).toBe(2);
  });
});

describe("authorization", () => {
  it("answers a request without a token with 401 and the resource metadata to follow", async () => {
    const response = await fetch(new URL("/mcp/helpdesk", edge.url), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(response.status).toBe(401);
    const challenge = response.headers.get("www-authenticate") ?? "";
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(metadataUrl).toBe(`${edge.url.origin}/.well-known/oauth-protected-resource/mcp/helpdesk`);
    const metadata = await (await fetch(metadataUrl!)).json();
    expect(metadata).toMatchObject({ resource: `${edge.url.origin}/mcp/helpdesk`, bearer_methods_supported: ["header"] });
    const bad = await fetch(new URL("/mcp/helpdesk", edge.url), { method: "POST", headers: { authorization: "Bearer tgk_acme_k0000000000000000_nope", "content-type": "application/json" }, body: "{}" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("never forwards the client's token upstream, and always sends the upstream's own credential", async () => {
    const refusedBefore = helpdesk.refused;
    const client = await connect(keys.helper);
    await client.callTool({ name: "read_ticket", arguments: { id: "T-1" } });
    await client.close();
    expect(helpdesk.authorizationSeen).toEqual([]);
    expect(helpdesk.refused).toBe(refusedBefore);
  });

  it("refuses another tenant's token on this tenant's session", async () => {
    const client = await connect(keys.helper);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    expect(sessionId).toBeTruthy();
    const hijack = await fetch(new URL("/mcp/helpdesk", edge.url), {
      method: "POST",
      headers: { authorization: `Bearer ${keys.other}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": sessionId },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "read_ticket", arguments: { id: "T-1" } } }),
    });
    expect(hijack.status).toBe(404);
    const forged = await fetch(new URL("/mcp/helpdesk", edge.url), {
      method: "POST",
      headers: { authorization: `Bearer ${keys.helper}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": `${sessionId.slice(0, -4)}AAAA` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 8, method: "tools/list" }),
    });
    expect(forged.status).toBe(404);
    await client.close();
    // A tenant without that server: 404 before anything reaches an upstream.
    const unknown = new Client({ name: "agent", version: "1" });
    await expect(unknown.connect(new StreamableHTTPClientTransport(new URL("/mcp/nowhere", edge.url), { requestInit: { headers: { authorization: `Bearer ${keys.helper}` } } }))).rejects.toThrow();
  });
});

describe("governed calls", () => {
  it("lists only what the agent's role may call", async () => {
    const client = await connect(keys.helper);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(["customer_export", "customer_history", "lookup_customer", "read_ticket", "send_email", "slow_report", "summarize_ticket"]);
    await client.close();
    const payer = await connect(keys.payer);
    expect((await payer.listTools()).tools.map((tool) => tool.name).sort()).toEqual(["customer_export", "customer_history", "lookup_customer", "read_ticket", "refund", "summarize_ticket"]);
    await payer.close();
  });

  it("forwards an allowed call and passes its result through, with the decision in _meta", async () => {
    const client = await connect(keys.helper);
    const result = await client.callTool({ name: "read_ticket", arguments: { id: "T-42" } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe("ticket T-42: printer on fire");
    expect(decisionOf(result)).toMatchObject({ decision: "allow", rules: [] });
    expect(decisionOf(result).decision_id).toMatch(/^[0-9a-f-]{36}$/);
    // The decision's signed receipt travels with the result.
    expect(decisionOf(result).receipt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    await client.close();
  });

  it("refuses a denied call with a result the model can read and a program can parse; the upstream never sees it", async () => {
    const client = await connect(keys.helper);
    const before = helpdesk.calls.length;
    const result = await client.callTool({ name: "run_shell", arguments: { command: "rm -rf /" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("Tollgate refused this call to run_shell");
    expect(textOf(result)).toContain("tool_not_allowed_for_role");
    expect(decisionOf(result)).toMatchObject({ decision: "deny", rules: expect.arrayContaining(["tool_not_allowed_for_role"]) });
    expect(decisionOf(result).receipt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const unmapped = await client.callTool({ name: "unmapped_tool", arguments: {} });
    expect(unmapped.isError).toBe(true);
    expect(decisionOf(unmapped).rules).toContain("unknown_tool");
    expect(helpdesk.calls.length).toBe(before);
    await client.close();
  });

  it("answers as JSON when the upstream's reply is the answer alone, and streams a reply that starts with notifications", async () => {
    const client = await connect(keys.helper);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const call = (id: number, params: Record<string, unknown>) =>
      fetch(new URL("/mcp/helpdesk", edge.url), {
        method: "POST",
        headers: { authorization: `Bearer ${keys.helper}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": sessionId },
        body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params }),
      });
    const plain = await call(31, { name: "read_ticket", arguments: { id: "T-1" } });
    expect(plain.headers.get("content-type")).toBe("application/json");
    const answer = (await plain.json()) as { id: number; result: { content: Array<{ text: string }>; _meta: Record<string, unknown> } };
    expect(answer.id).toBe(31);
    expect(answer.result.content[0].text).toContain("T-1");
    expect(decisionOf(answer.result)).toMatchObject({ decision: "allow" });
    const streamed = await call(32, { name: "slow_report", arguments: { ms: 150 }, _meta: { progressToken: "p-32" } });
    expect(streamed.headers.get("content-type")).toBe("text/event-stream");
    const events = (await streamed.text())
      .split("\n\n")
      .map((block) => block.split("\n").find((line) => line.startsWith("data: ")))
      // An event with no data only marks where the client may resume from.
      .filter((line): line is string => line !== undefined && line !== "data: ")
      .map((line) => JSON.parse(line.slice("data: ".length)));
    expect(events.filter((event) => event.method === "notifications/progress").map((event) => event.params.progress)).toEqual([1, 2, 3]);
    expect(events.at(-1)).toMatchObject({ id: 32, result: { content: [{ text: "report ready" }] } });
    await client.close();
  });

  it("passes progress notifications through", async () => {
    const client = await connect(keys.helper);
    const progress: number[] = [];
    const result = await client.callTool({ name: "slow_report", arguments: { ms: 150 } }, { onprogress: (p) => progress.push(p.progress) });
    expect(textOf(result)).toBe("report ready");
    expect(progress).toEqual([1, 2, 3]);
    await client.close();
  });
});

describe("resources and prompts", () => {
  type Refusal = { code: number; message: string; data?: Record<string, { decision: string; rules: string[]; decision_id: string }> };
  const refusalOf = (promise: Promise<unknown>) => promise.then(() => expect.unreachable("the request was answered")).catch((error: Refusal) => error);

  it("lists only the resources, templates and prompts the tenant mapped and the agent may use", async () => {
    const client = await connect(keys.helper);
    expect((await client.listResources()).resources.map((resource) => resource.uri)).toEqual(["tickets://open"]);
    expect((await client.listResourceTemplates()).resourceTemplates.map((template) => template.uriTemplate)).toEqual(["customers://{email}"]);
    expect((await client.listPrompts()).prompts.map((prompt) => prompt.name)).toEqual(["triage"]);
    await client.close();
  });

  it("reads a mapped resource and gets a mapped prompt with their decisions; refuses unmapped ones with a JSON-RPC error naming the decision, and the upstream never sees them", async () => {
    const client = await connect(keys.helper);
    const read = await client.readResource({ uri: "tickets://open" });
    expect(JSON.stringify(read.contents)).toContain("printer on fire");
    expect(decisionOf(read)).toMatchObject({ decision: "allow", rules: [] });
    expect(decisionOf(read).receipt).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const prompt = await client.getPrompt({ name: "triage", arguments: { id: "T-9" } });
    expect(JSON.stringify(prompt.messages)).toContain("Triage ticket T-9.");
    expect(decisionOf(prompt).decision).toBe("allow");

    const before = helpdesk.calls.length;
    const payroll = await refusalOf(client.readResource({ uri: "payroll://2026" }));
    expect(payroll.code).toBe(-32003);
    expect(payroll.message).toContain("Tollgate refused this read of payroll://2026");
    expect(payroll.data?.["tollgate/decision"]).toMatchObject({ decision: "deny", rules: expect.arrayContaining(["unknown_tool"]) });
    const unmapped = await refusalOf(client.getPrompt({ name: "unmapped_prompt" }));
    expect(unmapped.code).toBe(-32003);
    expect(unmapped.data?.["tollgate/decision"].rules).toContain("unknown_tool");
    const noUri = await refusalOf(client.request({ method: "resources/read", params: {} as { uri: string } }));
    expect(noUri.code).toBe(-32602);
    // A dot segment could make a mapped prefix name something else once the upstream resolves it.
    for (const uri of ["tickets://open/../../payroll://2026", "tickets://open/%2E%2e/x", "tickets://open/%2e%2e%2Fpayroll", "tickets://open\\..\\x"]) {
      expect((await refusalOf(client.readResource({ uri }))).code, uri).toBe(-32602);
    }
    expect(helpdesk.calls.length).toBe(before);

    // Each was decided and recorded as the tool its mapping names, with what it read.
    const records = await auditRecords((record) => record.decision_id === decisionOf(read).decision_id || record.decision_id === payroll.data?.["tollgate/decision"].decision_id);
    expect(records.map((record) => record.tool).sort()).toEqual(["mcp:helpdesk/resources/read", "tickets.read"]);
    expect(records.map((record) => record.mcp?.resource).sort()).toEqual(["payroll://2026", "tickets://open"]);
    await client.close();
  });

  it("decides a subscription as a read of what it subscribes to: an unmapped resource is refused, and the upstream never sees it", async () => {
    const key = await freshAgent();
    const client = await connect(key);
    const seenFrom = helpdesk.bodiesSeen.length;
    // The helpdesk keeps no subscriptions, so it may answer this one with an error of its own: what counts is that it got it.
    await client.request({ method: "resources/subscribe", params: { uri: "tickets://open" } }).catch(() => undefined);
    const refused = await refusalOf(client.request({ method: "resources/subscribe", params: { uri: "payroll://2026" } }));
    await client.close();
    expect(refused.code).toBe(-32003);
    expect(refused.message).toContain("Tollgate refused this subscription to payroll://2026");
    expect(refused.data?.["tollgate/decision"]).toMatchObject({ decision: "deny", rules: expect.arrayContaining(["unknown_tool"]) });
    const subscribes = helpdesk.bodiesSeen.slice(seenFrom).filter((body) => body.includes('"resources/subscribe"'));
    // The mapped one went upstream (which answers it as it will), the unmapped one never did.
    expect(subscribes.map((body) => (JSON.parse(body) as { params: { uri: string } }).params.uri)).toEqual(["tickets://open"]);
  });

  it("a read that needs approval names the approval; once approved, the same read goes through once", async () => {
    const client = await connect(keys.admin);
    // web.fetch is an external tool: after PII, reading through it needs a person's approval.
    await client.readResource({ uri: "customers://ada@example.test" });
    const asked = await refusalOf(client.readResource({ uri: "web://status" }));
    expect(asked.code).toBe(-32003);
    const meta = asked.data!["tollgate/decision"] as { decision: string; rules: string[]; approval?: { id: string } };
    expect(meta).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });
    expect(asked.message).toContain(meta.approval!.id);
    expect(asked.message).toContain("make the same request with the same arguments again");
    const approved = await admin(`/approvals/acme/${meta.approval!.id}`, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "status page only" }) }, TEST_TOKENS.acmeApprover);
    expect(approved.status, await approved.clone().text()).toBeLessThan(300);
    expect(JSON.stringify((await client.readResource({ uri: "web://status" })).contents)).toContain("page status");
    // Once: the next read asks again, and another page was never approved.
    expect((await refusalOf(client.readResource({ uri: "web://status" }))).data!["tollgate/decision"].decision).toBe("require_approval");
    expect((await refusalOf(client.readResource({ uri: "web://payroll" }))).data!["tollgate/decision"].decision).toBe("require_approval");
    await client.close();
  });

  it("completes a mapped prompt's argument with the decision in _meta, and refuses completing an unmapped one", async () => {
    const client = await connect(keys.helper);
    const before = helpdesk.calls.length;
    const completed = await client.complete({ ref: { type: "ref/prompt", name: "triage" }, argument: { name: "id", value: "T-1" } });
    expect(completed.completion.values).toEqual(["T-1", "T-10"]);
    expect(decisionOf(completed)).toMatchObject({ decision: "allow" });
    const refused = await refusalOf(client.complete({ ref: { type: "ref/prompt", name: "unmapped_prompt" }, argument: { name: "who", value: "" } }));
    expect(refused.code).toBe(-32003);
    expect(refused.message).toContain("Tollgate refused this completion for unmapped_prompt");
    expect(refused.data?.["tollgate/decision"].rules).toContain("unknown_tool");
    const malformed = await refusalOf(client.request({ method: "completion/complete", params: { ref: { type: "ref/tool", name: "x" }, argument: { name: "a", value: "" } } } as never));
    expect(malformed.code).toBe(-32602);
    // Only the allowed completion reached the upstream.
    expect(helpdesk.calls.slice(before).map((call) => call.tool)).toEqual(["completion:triage"]);
    await client.close();
  });

  it("a resource whose mapping says it carries PII taints the session: an external tool then needs approval", async () => {
    // An agent of its own: what the shared agent read elsewhere in this file binds all its sessions.
    const client = await connect(await freshAgent());
    expect((await client.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "hello" } })).isError).toBeFalsy();
    const customer = await client.readResource({ uri: "customers://ada@example.test" });
    expect(JSON.stringify(customer.contents)).toContain("Ada Lovelace");
    const leak = await client.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "Ada's phone" } });
    expect(leak.isError).toBe(true);
    expect(decisionOf(leak)).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });
    await client.close();
  });
});

describe("approvals", () => {
  it("elicits with a link to the approval, and once approved the same call goes through once", async () => {
    const client = await connect(keys.payer, "helpdesk", { urlElicitation: true });
    const before = helpdesk.calls.filter((call) => call.tool === "refund").length;
    const error = await client.callTool({ name: "refund", arguments: { amount: 900, currency: "EUR" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UrlElicitationRequiredError);
    const [elicitation] = (error as UrlElicitationRequiredError).elicitations;
    expect(elicitation.mode).toBe("url");
    const approvalId = elicitation.elicitationId;
    expect(approvalId).toMatch(/^apr_[0-9a-f]{64}_[0-9a-f]{24}$/);
    expect(elicitation.url).toBe(`${edge.url.origin}/console/approvals/acme/${approvalId}`);
    // Asking again before anyone decided: the same pending approval, no call made.
    const again = await client.callTool({ name: "refund", arguments: { amount: 900, currency: "EUR" } }).catch((e: unknown) => e);
    expect((again as UrlElicitationRequiredError).elicitations[0].elicitationId).toBe(approvalId);

    const approved = await admin(`/approvals/acme/${approvalId}`, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "ticket T-9" }) }, TEST_TOKENS.acmeApprover);
    expect(approved.status).toBe(200);
    // A changed amount is not what was approved.
    const changed = await client.callTool({ name: "refund", arguments: { amount: 901, currency: "EUR" } }).catch((e: unknown) => e);
    expect(changed).toBeInstanceOf(UrlElicitationRequiredError);

    const result = await client.callTool({ name: "refund", arguments: { amount: 900, currency: "EUR" } });
    expect(textOf(result)).toBe("refunded 900 EUR");
    expect(decisionOf(result).decision).toBe("allow");
    const once = await client.callTool({ name: "refund", arguments: { amount: 900, currency: "EUR" } }).catch((e: unknown) => e);
    expect(once).toBeInstanceOf(UrlElicitationRequiredError);
    expect((once as UrlElicitationRequiredError).elicitations[0].elicitationId).not.toBe(approvalId);
    expect(helpdesk.calls.filter((call) => call.tool === "refund").length).toBe(before + 1);
    await client.close();
  });

  it("tells a URL-elicitation client on its stream when an approval is settled, and a stream opened later again", async () => {
    const settled: string[] = [];
    const client = new Client({ name: "agent", version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
    client.setNotificationHandler("notifications/elicitation/complete", (notice: { params?: { elicitationId?: string }; elicitationId?: string }) => {
      settled.push(notice.params?.elicitationId ?? notice.elicitationId ?? "?");
    });
    const transport = new StreamableHTTPClientTransport(new URL("/mcp/helpdesk", edge.url), { requestInit: { headers: { authorization: `Bearer ${keys.payer}` } } });
    await client.connect(transport);
    const told = async (id: string) => {
      for (let waited = 0; !settled.includes(id) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      return settled.includes(id);
    };
    const elicit = async (amount: number) => {
      const error = await client.callTool({ name: "refund", arguments: { amount, currency: "EUR" } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UrlElicitationRequiredError);
      return (error as UrlElicitationRequiredError).elicitations[0].elicitationId;
    };

    const approvedId = await elicit(611);
    expect(settled).not.toContain(approvedId);
    await admin(`/approvals/acme/${approvedId}`, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "ok" }) }, TEST_TOKENS.acmeApprover);
    expect(await told(approvedId)).toBe(true);
    const result = await client.callTool({ name: "refund", arguments: { amount: 611, currency: "EUR" } });
    expect(textOf(result)).toBe("refunded 611 EUR");

    const rejectedId = await elicit(622);
    await admin(`/approvals/acme/${rejectedId}`, { method: "POST", body: JSON.stringify({ decision: "reject", reason: "no" }) }, TEST_TOKENS.acmeApprover);
    expect(await told(rejectedId)).toBe(true);
    const pendingId = await elicit(633);

    // The session's stream is the client's while it is open; once the client leaves, the gateway releases the
    // upstream's (within a keep-alive interval, when a write to the client fails), and a stream opened then names what ended unused (the rejection), not what was used
    // or is still pending.
    const openStream = () =>
      fetch(new URL("/mcp/helpdesk", edge.url), {
        headers: { authorization: `Bearer ${keys.payer}`, accept: "text/event-stream", "mcp-session-id": transport.sessionId!, "mcp-protocol-version": "2025-11-25" },
      });
    const second = await openStream();
    expect(second.status).toBe(409);
    expect(((await second.json()) as RpcError).error.message).toMatch(/already open/);
    const sessionId = transport.sessionId!;
    await transport.close();
    let stream = await openStream();
    for (let waited = 0; stream.status === 409 && waited < 15_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      stream = await openStream();
    }
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = "";
    while (!text.includes(rejectedId)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toContain(`"method":"notifications/elicitation/complete","params":{"elicitationId":"${rejectedId}"}`);
    expect(text).not.toContain(approvedId);
    expect(text).not.toContain(pendingId);

    // Another tenant's agent cannot open this session's stream, and so learns nothing of its approvals.
    const foreign = await fetch(new URL("/mcp/helpdesk", edge.url), { headers: { authorization: `Bearer ${keys.other}`, accept: "text/event-stream", "mcp-session-id": sessionId } });
    expect(foreign.status).toBe(404);
    expect(await foreign.text()).not.toContain("apr_");
  });

  it("opens a stream for a URL-elicitation client's notices when the upstream has none; other clients get 405", async () => {
    const streamOf = async (key: string, elicit: boolean) => {
      const client = await connect(key, "junk", { urlElicitation: elicit });
      const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
      const response = await fetch(new URL("/mcp/junk", edge.url), { headers: { authorization: `Bearer ${key}`, accept: "text/event-stream", "mcp-session-id": sessionId } });
      await client.close();
      return response;
    };
    const notices = await streamOf(keys.payer, true);
    expect(notices.status).toBe(200);
    expect(notices.headers.get("content-type")).toBe("text/event-stream");
    await notices.body!.cancel();
    const none = await streamOf(keys.payer, false);
    expect(none.status).toBe(405);
    expect(none.headers.get("allow")).toBe("POST, DELETE");
    // A session id that was never issued, or that another tenant's agent presents, opens nothing.
    const forged = await fetch(new URL("/mcp/junk", edge.url), { headers: { authorization: `Bearer ${keys.payer}`, accept: "text/event-stream", "mcp-session-id": "not-a-session" } });
    expect(forged.status).toBe(404);
  });

  it("tells a client without URL elicitation which approval to wait for and to call again", async () => {
    const client = await connect(keys.payer);
    const result = await client.callTool({ name: "refund", arguments: { amount: 750, currency: "EUR" } });
    expect(result.isError).toBe(true);
    const meta = decisionOf(result);
    expect(meta.decision).toBe("require_approval");
    expect(meta.approval?.id).toMatch(/^apr_/);
    expect(textOf(result)).toContain(meta.approval!.id);
    expect(textOf(result)).toContain("make the same call with the same arguments again");
    await admin(`/approvals/acme/${meta.approval!.id}`, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "ok" }) }, TEST_TOKENS.acmeApprover);
    const retried = await client.callTool({ name: "refund", arguments: { amount: 750, currency: "EUR" } });
    expect(textOf(retried)).toBe("refunded 750 EUR");
    await client.close();
  });
});

describe("session taint", () => {
  it("after a tool returned PII, an external tool needs approval, in calls and in the listing", async () => {
    const client = await connect(await freshAgent());
    expect((await client.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "hi" } })).isError).toBeFalsy();
    const customer = await client.callTool({ name: "lookup_customer", arguments: { email: "ada@example.test" } });
    expect(textOf(customer)).toContain("Ada Lovelace");
    const leak = await client.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "Ada's phone" } });
    expect(leak.isError).toBe(true);
    expect(decisionOf(leak)).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });
    const listed = (await client.listTools()).tools.find((tool) => tool.name === "send_email");
    expect(listed?._meta?.["tollgate/approval"]).toBe("required");
    // Internal tools are still fine.
    expect((await client.callTool({ name: "read_ticket", arguments: { id: "T-2" } })).isError).toBeFalsy();
    await client.close();
  });

  it("resumes a stream the upstream closed before answering, and its answer still taints the session", async () => {
    const client = await connect(keys.helper);
    const before = helpdesk.calls.filter((call) => call.tool === "customer_history").length;
    const history = await client.callTool({ name: "customer_history", arguments: { email: "ada@example.test" } });
    expect(history.isError).toBeFalsy();
    expect(textOf(history)).toBe("history of ada@example.test: 3 tickets, phone +44 20 7946 0000");
    expect(decisionOf(history)).toMatchObject({ decision: "allow" });
    expect(helpdesk.calls.filter((call) => call.tool === "customer_history").length).toBe(before + 1);
    const leak = await client.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "Ada's history" } });
    expect(decisionOf(leak)).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });
    await client.close();
  });

  it("resumes through the gateway a stream whose connection broke: the answer names its decision and still taints the session", async () => {
    const client = await connect(keys.helper);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const headers = { authorization: `Bearer ${keys.helper}`, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" };
    // The call's stream breaks after its first progress notification.
    const broken = new AbortController();
    const call = await fetch(new URL("/mcp/helpdesk", edge.url), {
      method: "POST",
      signal: broken.signal,
      headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 71, method: "tools/call", params: { name: "customer_export", arguments: { email: "ada@example.test" }, _meta: { progressToken: "export-1" } } }),
    });
    expect(call.headers.get("content-type")).toBe("text/event-stream");
    const reader = call.body!.getReader();
    let seen = "";
    while (!/\nid: [^\n]+\n[\s\S]*notifications\/progress/.test(`\n${seen}`)) seen += new TextDecoder().decode((await reader.read()).value);
    broken.abort();
    const lastEventId = /(?:^|\n)id: ([^\n]+)\n/.exec(seen)![1];
    // The id is the gateway's own, sealed: the upstream's is never handed out bare.
    expect(lastEventId).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

    const resumed = await fetch(new URL("/mcp/helpdesk", edge.url), { headers: { ...headers, accept: "text/event-stream", "last-event-id": lastEventId } });
    expect(resumed.status).toBe(200);
    const messages = (await resumed.text())
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice(6)) as { id?: number; result?: { content: Array<{ text: string }>; _meta?: Record<string, unknown> } });
    const answer = messages.find((message) => message.id === 71)!;
    expect(answer.result!.content[0].text).toBe("export of ada@example.test: Ada Lovelace, +44 20 7946 0000");
    expect(answer.result!._meta!["tollgate/decision"]).toMatchObject({ decision: "allow", resumed: true });
    // The resumed answer was recorded as PII before the client saw it: the session is tainted.
    const leak = await client.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "Ada's record" } });
    expect(decisionOf(leak)).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });

    // Without a credential, a real id resumes nothing either.
    const anonymous = await fetch(new URL("/mcp/helpdesk", edge.url), { headers: { "mcp-session-id": sessionId, accept: "text/event-stream", "last-event-id": lastEventId } });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain("Ada");
    // An id that is not the gateway's, or that belongs to another session, resumes nothing.
    for (const [key, session, id] of [
      [keys.helper, sessionId, "v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
      [keys.helper, sessionId, "upstream-event-1"],
    ]) {
      const refused = await fetch(new URL("/mcp/helpdesk", edge.url), { headers: { authorization: `Bearer ${key}`, "mcp-session-id": session, accept: "text/event-stream", "last-event-id": id } });
      expect(refused.status).toBe(400);
    }
    const other = await connect(keys.helper);
    const otherSession = (other.transport as StreamableHTTPClientTransport).sessionId!;
    const elsewhere = await fetch(new URL("/mcp/helpdesk", edge.url), { headers: { authorization: `Bearer ${keys.helper}`, "mcp-session-id": otherSession, accept: "text/event-stream", "last-event-id": lastEventId } });
    expect(elsewhere.status).toBe(400);
    await other.close();
    await client.close();
  });

  it("binds the agent's other MCP sessions, whatever Tollgate session they name, and its calls to /v1/decide", async () => {
    const key = await freshAgent();
    const reader = await connect(key);
    const sender = await connect(key, "helpdesk", { headers: { "tollgate-session": `elsewhere-${Date.now()}` } });
    expect((await sender.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "hello" } })).isError).toBeFalsy();
    expect(textOf(await reader.callTool({ name: "lookup_customer", arguments: { email: "ada@example.test" } }))).toContain("Ada Lovelace");
    const leak = await sender.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "Ada's phone" } });
    expect(decisionOf(leak)).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });
    const decided = await fetch(new URL("/v1/decide", edge.url), {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ session: { id: `native-${Date.now()}` }, action: { type: "tool_call", tool: "slack.post", args: {} } }),
    });
    expect(await decided.json()).toMatchObject({ decision: "require_approval", reasons: [{ rule: "session_data_to_external_tool" }] });
    // Another agent of the tenant is untouched.
    const bystander = await connect(await freshAgent());
    expect((await bystander.callTool({ name: "send_email", arguments: { to: "a@example.test", body: "hello" } })).isError).toBeFalsy();
    await Promise.all([reader.close(), sender.close(), bystander.close()]);
  });

  it("shares a session's taint with /v1/decide when the client names its Tollgate session", async () => {
    const session = `shared-${Date.now()}`;
    const client = await connect(keys.helper, "helpdesk", { headers: { "tollgate-session": session } });
    await client.callTool({ name: "lookup_customer", arguments: { email: "ada@example.test" } });
    await client.close();
    const decided = await fetch(new URL("/v1/decide", edge.url), {
      method: "POST",
      headers: { authorization: `Bearer ${keys.helper}`, "content-type": "application/json" },
      body: JSON.stringify({ session: { id: session }, action: { type: "tool_call", tool: "slack.post", args: {} } }),
    });
    expect(await decided.json()).toMatchObject({ decision: "require_approval", reasons: [{ rule: "session_data_to_external_tool" }] });
  });
});

/** One message to /mcp/<server> as a client that does not follow the protocol would send it. */
function rawMessage(server: string, key: string, sessionId: string | undefined, message: unknown, signal?: AbortSignal): Promise<Response> {
  return fetch(new URL(`/mcp/${server}`, edge.url), {
    method: "POST",
    signal,
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-11-25",
      ...(sessionId ? { "mcp-session-id": sessionId } : {}),
    },
    body: JSON.stringify(message),
  });
}

/** Opens an MCP session with a bare initialize, as a client that speaks raw JSON-RPC does; its Mcp-Session-Id. */
async function rawSession(server: string, key: string): Promise<string> {
  const init = await rawMessage(server, key, undefined, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } });
  expect(init.status).toBe(200);
  await init.body?.cancel();
  return init.headers.get("mcp-session-id")!;
}

describe("the client's answers to the upstream's requests", () => {
  /** A client whose model answers every sampling request with `text`; what its transport could not send is in `errors`. */
  async function samplingClient(key: string, server: string, text: string, errors: Error[] = []): Promise<Client> {
    const client = new Client({ name: "agent", version: "1.0.0" }, { capabilities: { sampling: {} } });
    client.setRequestHandler("sampling/createMessage", async () => ({ role: "assistant", content: { type: "text", text }, model: "test-model" }));
    client.onerror = (error) => errors.push(error);
    await client.connect(new StreamableHTTPClientTransport(new URL(`/mcp/${server}`, edge.url), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    return client;
  }
  const marker = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`;
  const reachedUpstream = (text: string) => helpdesk.bodiesSeen.some((body) => body.includes(text));
  const summarize = async (client: Client) => textOf(await client.callTool({ name: "summarize_ticket", arguments: { id: "T-1" } }));

  it("are refused where the registration maps none: the upstream is told so and never sees the answer, and the refusal is on the record", async () => {
    const secret = marker("unmapped");
    const errors: Error[] = [];
    const client = await samplingClient(await freshAgent(), "helpdesk", secret, errors);
    const text = await summarize(client);
    // The gateway tells the upstream before it answers the client's POST, so the tool's result can arrive first:
    // the client is closed only once its SDK has reported why its answer was not delivered (closing aborts that POST).
    const refusal = "Tollgate refused this answer to a request of helpdesk";
    for (let waited = 0; !errors.some((error) => error.message.includes(refusal)) && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    await client.close();
    expect(text).toMatch(/^sampling failed: .*refused by its gateway's policy \(decision [0-9a-f-]{36}\)/);
    expect(reachedUpstream(secret)).toBe(false);
    // The client's SDK could not deliver its answer, and says why.
    expect(errors.map((error) => error.message).join("\n")).toContain(refusal);
    const [refused] = await auditRecords((record) => record.tool === "mcp:helpdesk/answers", 1);
    expect(refused.decision).toBe("deny");
  });

  it("pass where they map to a tool the agent may use, each decided on its own", async () => {
    const secret = marker("internal");
    const client = await samplingClient(await freshAgent(), "sampler", secret);
    expect(await summarize(client)).toBe(`sampled: ${secret}`);
    await client.close();
    expect(reachedUpstream(secret)).toBe(true);
    // Recorded as an answer to that server, which only the gateway can say (a body naming action.mcp is refused).
    const answers = await auditRecords((record) => record.tool === "kb.search" && record.mcp?.server === "sampler", 1);
    expect(answers[0]).toMatchObject({ decision: "allow", mcp: { server: "sampler", answer: true } });
  });

  it("cannot carry what the session read to a server whose answers go to an external tool: held for approval, never sent", async () => {
    const [before, after] = [marker("clean"), marker("tainted")];
    const key = await freshAgent();
    const clean = await samplingClient(key, "outbound", before);
    expect(await summarize(clean)).toBe(`sampled: ${before}`);
    await clean.close();
    const client = await samplingClient(key, "outbound", after);
    expect(decisionOf(await client.callTool({ name: "lookup_customer", arguments: { email: "ada@example.test" } }))).toMatchObject({ decision: "allow" });
    const text = await summarize(client);
    await client.close();
    expect(text).toMatch(/^sampling failed: .*refused by its gateway's policy/);
    expect(reachedUpstream(after)).toBe(false);
  });

  it("answers a refused answer with 403 and its decision, and one beyond a decision's limits with 400; neither leaves", async () => {
    const key = await freshAgent();
    const sessionId = await rawSession("outbound", key);
    // The session reads PII, so an answer to this server (judged as email.send, external) needs approval.
    const read = await rawMessage("outbound", key, sessionId, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "lookup_customer", arguments: { email: "ada@example.test" } } });
    expect(read.status).toBe(200);
    await read.text();
    const secret = marker("raw");
    const refused = await rawMessage("outbound", key, sessionId, { jsonrpc: "2.0", id: "s-1", result: { role: "assistant", content: { type: "text", text: secret }, model: "m" } });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { id: unknown; error: { code: number; message: string; data: Record<string, { decision: string; rules: string[]; approval?: { id: string } }> } };
    expect(body.id).toBeNull();
    expect(body.error.code).toBe(-32003);
    expect(body.error.data["tollgate/decision"]).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });
    // Approved, the same answer goes through once, to the request asked again; another answer still needs approval.
    const approvalId = body.error.data["tollgate/decision"].approval!.id;
    const approved = await admin(`/approvals/acme/${approvalId}`, { method: "POST", body: JSON.stringify({ decision: "approve", reason: "the summary only" }) }, TEST_TOKENS.acmeApprover);
    expect(approved.status, await approved.clone().text()).toBe(200);
    const sameAgain = (id: string) => rawMessage("outbound", key, sessionId, { jsonrpc: "2.0", id, result: { role: "assistant", content: { type: "text", text: secret }, model: "m" } });
    const once = await sameAgain("s-1b");
    expect(once.status, await once.clone().text()).toBe(202);
    expect(helpdesk.bodiesSeen.some((text) => text.includes('"id":"s-1b"') && text.includes(secret))).toBe(true);
    expect((await sameAgain("s-1c")).status).toBe(403);
    const sent = helpdesk.bodiesSeen.length;
    // Too deep for a decision's input (32 levels), though not for a message (40).
    let deep: unknown = secret;
    for (let level = 0; level < 36; level++) deep = { d: deep };
    const tooDeep = await rawMessage("outbound", key, sessionId, { jsonrpc: "2.0", id: "s-2", result: deep });
    expect(tooDeep.status).toBe(400);
    expect(((await tooDeep.json()) as RpcError).error.code).toBe(-32602);
    const errorAnswer = await rawMessage("outbound", key, sessionId, { jsonrpc: "2.0", id: "s-3", error: { code: -1, message: secret } });
    expect(errorAnswer.status).toBe(403);
    await errorAnswer.text();
    expect(helpdesk.bodiesSeen.slice(sent).some((text) => text.includes(secret))).toBe(false);
    // What the upstream got in their place: an error for each of its requests, naming nothing of the answers.
    const told = helpdesk.bodiesSeen.filter((text) => /"id":"s-[123]"/.test(text)).map((text) => JSON.parse(text) as { id: string; error?: { code: number; message: string } });
    expect(told.map((message) => message.id).sort()).toEqual(["s-1", "s-2", "s-3"]);
    for (const message of told) expect(message.error?.code).toBe(-32003);
    // Another tenant's agent cannot answer on this session.
    const stranger = await rawMessage("outbound", keys.other, sessionId, { jsonrpc: "2.0", id: "s-4", result: { text: secret } });
    expect(stranger.status).toBe(404);
  });
});

describe("a client that breaks the protocol", () => {
  it("cannot get a PII answer past the session's taint by reusing the id of the call in flight", async () => {
    const key = await freshAgent();
    const client = await connect(key);
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    // A: a tool whose answer carries PII, id 7; the upstream works on it for a while.
    const exports = () => helpdesk.calls.filter((call) => call.tool === "customer_export").length;
    const exportsBefore = exports();
    const abortA = new AbortController();
    const callA = rawMessage("helpdesk", key, sessionId, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "customer_export", arguments: { email: "ada@example.test" } } }, abortA.signal).catch(() => undefined);
    for (let waited = 0; exports() === exportsBefore; waited += 10) {
      if (waited > 5_000) throw new Error("the upstream never ran customer_export");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // B: a tool whose mapping carries nothing, slower, with the same id. The upstream (official SDK) routes
    // answers by id, so A's answer goes out on B's stream.
    const answerB = await (await rawMessage("helpdesk", key, sessionId, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "slow_report", arguments: { ms: 1500 } } })).text();
    abortA.abort();
    await callA;
    const leak = await client.callTool({ name: "send_email", arguments: { to: "outside@example.test", body: "Ada's phone" } });
    await client.close();
    // Whichever stream A's answer took, the session holds PII from the moment A was allowed.
    expect(decisionOf(leak), `B's answer: ${answerB.slice(0, 300)}`).toMatchObject({ decision: "require_approval", rules: ["session_data_to_external_tool"] });
  });

  it("cannot get an unfiltered listing by reusing the id of a listing in flight, nor from an answer to another request", async () => {
    const key = await freshAgent();
    const sessionId = await rawSession("router", key);
    const idsBefore = router.ids.length;
    // The listing is in flight upstream when a ping with its id arrives; the upstream answers the latest request with an id.
    const listing = rawMessage("router", key, sessionId, { jsonrpc: "2.0", id: 9, method: "tools/list" });
    for (let waited = 0; router.ids.length === idsBefore; waited += 10) {
      if (waited > 5_000) throw new Error("the listing never reached the upstream");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const ping = await rawMessage("router", key, sessionId, { jsonrpc: "2.0", id: 9, method: "ping" });
    const pingText = await ping.text();
    const listed = await (await listing).json();
    // The listing went upstream under the gateway's own id, so its answer stayed on its own stream, filtered.
    expect(router.ids.slice(idsBefore)).toEqual([expect.stringMatching(/^tollgate-list-/), 9]);
    expect(listed).toMatchObject({ id: 9, result: { tools: [{ name: "read_ticket" }] } });
    expect(listed.result.tools).toHaveLength(1);
    // The ping's stream carried only the ping's answer: the answer to another request on it was dropped.
    expect(pingText).not.toContain("run_shell");
    expect(pingText).toContain('"id":9');
  });

  it("cannot hand the upstream a tools/call without an id, nor a method MCP does not define", async () => {
    const key = await freshAgent();
    const sessionId = await rawSession("dispatcher", key);
    const before = dispatcher.received.length;
    // As a notification, run_shell (not even mapped: as a request it is refused and recorded) would be run undecided.
    const sneaky = await rawMessage("dispatcher", key, sessionId, { jsonrpc: "2.0", method: "tools/call", params: { name: "run_shell", arguments: { command: "id" } } });
    expect(sneaky.status).toBe(400);
    expect(await sneaky.json()).toMatchObject({ error: { code: -32600 } });
    // A name the upstream may read loosely, or one of its own: not found at the gateway.
    for (const method of ["Tools/Call", "tools/call/", "admin/exec"]) {
      const unknown = await rawMessage("dispatcher", key, sessionId, { jsonrpc: "2.0", id: 1, method, params: { name: "run_shell", arguments: { command: "id" } } });
      expect(await unknown.json(), method).toMatchObject({ id: 1, error: { code: -32601 } });
    }
    // What MCP defines still passes: a notification, and a ping.
    expect((await rawMessage("dispatcher", key, sessionId, { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } })).status).toBe(202);
    expect(await (await rawMessage("dispatcher", key, sessionId, { jsonrpc: "2.0", id: 2, method: "ping" })).json()).toMatchObject({ id: 2, result: {} });
    expect(dispatcher.received.slice(before)).toEqual(["notifications/progress", "ping"]);
  });
});

describe("what reaches the upstream", () => {
  it("is what was decided, and nothing the policy did not see: no extra params, no _meta but a progress token, no free text in a notification", async () => {
    const key = await freshAgent();
    const sessionId = await rawSession("helpdesk", key);
    const secret = `smuggled-${Math.random().toString(36).slice(2)}`;
    const seenFrom = helpdesk.bodiesSeen.length;
    const send = async (body: unknown) => {
      const response = await rawMessage("helpdesk", key, sessionId, body);
      return { status: response.status, text: await response.text() };
    };
    const call = await send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_ticket", arguments: { id: "T-9" }, note: secret, _meta: { progressToken: "p-1", note: secret } } });
    expect(call.text).toContain("ticket T-9");
    expect((await send({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { note: secret } })).text).toContain("read_ticket");
    expect((await send({ jsonrpc: "2.0", id: 3, method: "ping", params: { note: secret } })).text).toContain('"result"');
    expect((await send({ jsonrpc: "2.0", id: 4, method: "resources/subscribe", params: { uri: "tickets://open", note: secret } })).status).toBe(200);
    expect((await send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "p-9", progress: 1, message: secret } })).status).toBe(202);
    expect((await send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 99, reason: secret } })).status).toBe(202);
    const sent = helpdesk.bodiesSeen.slice(seenFrom);
    expect(sent.join("\n")).not.toContain(secret);
    const parsed = sent.map((body) => JSON.parse(body) as { method?: string; params?: Record<string, unknown> });
    expect(parsed.find((body) => body.method === "tools/call")?.params).toEqual({ name: "read_ticket", arguments: { id: "T-9" }, _meta: { progressToken: "p-1" } });
    expect(parsed.find((body) => body.method === "notifications/progress")?.params).toEqual({ progressToken: "p-9", progress: 1 });
    expect(parsed.find((body) => body.method === "notifications/cancelled")?.params).toEqual({ requestId: 99 });
    // What MCP does not define from a client is refused at the gateway, not passed on for the upstream to read.
    const invented = await send({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: secret } });
    expect(invented.status).toBe(400);
    expect(JSON.parse(invented.text)).toMatchObject({ error: { code: -32600 } });
    expect(JSON.parse((await send({ jsonrpc: "2.0", id: 5, method: "logging/setLevel", params: { level: secret } })).text)).toMatchObject({ id: 5, error: { code: -32602 } });
    expect((await send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: { secret }, progress: 1 } })).status).toBe(400);
    expect(helpdesk.bodiesSeen.slice(seenFrom).join("\n")).not.toContain(secret);
  });
});

describe("faults", () => {
  it("gives a slow upstream the deadline and a clear error, never a hang", async () => {
    const client = await connect(keys.helper, "slowdesk");
    const started = Date.now();
    const result = await client.callTool({ name: "slow_report", arguments: { ms: 3000 } });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("did not answer within 600 ms");
    expect(decisionOf(result).upstream).toMatchObject({ fault: "timeout", fail_mode: "open" });
    await client.close();
  });

  it("answers an upstream that is down with a clear error", async () => {
    const client = new Client({ name: "agent", version: "1" });
    const transport = new StreamableHTTPClientTransport(new URL("/mcp/gone", edge.url), { requestInit: { headers: { authorization: `Bearer ${keys.helper}` } } });
    await expect(client.connect(transport)).rejects.toThrow(/could not be reached|502/);
  });

  it("reports garbage from an upstream clearly and keeps serving", async () => {
    const client = await connect(keys.helper, "junk");
    for (let i = 0; i < 3; i++) {
      const result = await client.callTool({ name: "read_ticket", arguments: { id: "T-1" } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/upstream junk (answered with content type text\/html|sent something that is not JSON|ended its reply without answering)/);
    }
    await client.close();
    const healthy = await connect(keys.helper);
    expect(textOf(await healthy.callTool({ name: "read_ticket", arguments: { id: "T-3" } }))).toContain("T-3");
    await healthy.close();
  });

  it("forwards a message as it read it: a key sent twice cannot make the upstream see another method than the one judged", async () => {
    const transport = new StreamableHTTPClientTransport(new URL("/mcp/helpdesk", edge.url), { requestInit: { headers: { authorization: `Bearer ${keys.helper}` } } });
    const client = new Client({ name: "agent", version: "1.0.0" });
    await client.connect(transport);
    const seen = helpdesk.bodiesSeen.length;
    const calls = helpdesk.calls.length;
    // Read as a ping (JSON.parse keeps the last key); a parser that keeps the first would run the call.
    const sneaky = '{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"read_ticket","arguments":{"id":"T-1"}},"method":"ping"}';
    const answer = await fetch(new URL("/mcp/helpdesk", edge.url), {
      method: "POST",
      headers: { authorization: `Bearer ${keys.helper}`, "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": transport.sessionId! },
      body: sneaky,
    });
    expect(answer.status).toBe(200);
    const forwarded = helpdesk.bodiesSeen.slice(seen).filter((body) => body.includes('"id":77'));
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]).not.toContain("tools/call");
    expect(JSON.parse(forwarded[0])).toMatchObject({ jsonrpc: "2.0", id: 77, method: "ping" });
    expect(helpdesk.calls.length).toBe(calls);
    await client.close();
  });

  it("answers malformed, invalid, oversized and deeply nested messages with JSON-RPC errors", async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(new URL("/mcp/helpdesk", edge.url), { method: "POST", headers: { authorization: `Bearer ${keys.helper}`, "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body });
    const parse = await post("{not json");
    expect(parse.status).toBe(400);
    expect(await parse.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    const invalid = await post(JSON.stringify({ jsonrpc: "1.0", id: 1, method: "ping" }));
    expect(((await invalid.json()) as RpcError).error.code).toBe(-32600);
    const batch = await post(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "ping" }]));
    expect(((await batch.json()) as RpcError).error.code).toBe(-32600);
    const oversized = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(2 * 1024 * 1024) } }));
    expect(oversized.status).toBe(413);
    const deep = await post(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":${"[".repeat(5000)}${"]".repeat(5000)}}}`);
    expect(deep.status).toBe(400);
    expect(((await deep.json()) as RpcError).error.code).toBe(-32600);
    const noSession = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
    expect(noSession.status).toBe(400);
    expect((await post("{}", { "content-type": "text/plain" })).status).toBe(415);
    // The gateway is still serving.
    const client = await connect(keys.helper);
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
  });
});

/**
 * The MCP gateway inside workerd, against upstreams written here (the
 * runtime's fetch answered by a function, so each can behave as a real
 * server may): what one agent's calls bring back stays with that agent.
 */
import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { upstreamDestinationProblem } from "../../src/mcp/upstream-schema";
import { TEST_TOKENS } from "../fixtures/test-config";
import { bearer, type AgentSpec } from "../identity/credentials";
import { admin, uniqueId } from "../session/helpers";

const UPSTREAM = "https://upstream.test/mcp";
const TOOLS = { lookup_customer: { tool: "crm.read_customer", data_classes: ["pii"] }, send_email: { tool: "email.send" } };

type Handler = (message: Record<string, any>) => unknown;

/** Answers the gateway's requests to UPSTREAM with `handler`'s results; anything else goes out as it would. */
function stubUpstream(handler: Handler, upstreamSession?: string): string[] {
  const received: string[] = [];
  const original = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    if (!request.url.startsWith(UPSTREAM)) return original(input as RequestInfo, init);
    if (request.method !== "POST") return new Response(null, { status: 405 });
    const message = JSON.parse(await request.text());
    received.push(message.method ?? "(response)");
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (message.method === "initialize") {
      if (upstreamSession) headers["mcp-session-id"] = upstreamSession;
      const result = { protocolVersion: "2025-11-25", capabilities: { tools: {}, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } }, serverInfo: { name: "u", version: "0" } };
      return new Response(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }), { headers });
    }
    if (message.id === undefined) return new Response(null, { status: 202 });
    return new Response(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: handler(message) }), { headers });
  });
  return received;
}
afterEach(() => void vi.restoreAllMocks());

async function registerServer(): Promise<string> {
  const name = uniqueId("review").toLowerCase().slice(0, 60);
  const response = await admin(`/mcp/acme/servers/${name}`, TEST_TOKENS.registrar, { method: "PUT", body: JSON.stringify({ url: UPSTREAM, tools: TOOLS }) });
  expect(response.status, await response.clone().text()).toBe(201);
  return name;
}

async function post(server: string, spec: AgentSpec, message: Record<string, unknown>, session?: string): Promise<Response> {
  return exports.default.fetch(`http://edge/mcp/${server}`, {
    method: "POST",
    headers: { ...(await bearer(spec)), "content-type": "application/json", accept: "application/json, text/event-stream", ...(session ? { "mcp-session-id": session } : {}) },
    body: JSON.stringify(message),
  });
}

async function initialize(server: string, spec: AgentSpec): Promise<string> {
  const response = await post(server, spec, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "agent", version: "1" } } });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.headers.get("mcp-session-id")!;
}

const freshAgent = (): AgentSpec => ({ tenant: "acme", agent: uniqueId("review-agent").slice(0, 60), role: "support" });
const decisionOf = (answer: any) => answer.result?._meta?.["tollgate/decision"] ?? answer.error?.data?.["tollgate/decision"];

describe("tasks (MCP 2025-11-25) through the gateway", () => {
  it("cannot hand one agent the result of another agent's task from an upstream without sessions", async () => {
    // A stateless upstream (no Mcp-Session-Id) with one task store: it sees every agent of the tenant as the
    // gateway, with the gateway's credential, so it cannot tell whose task is whose.
    const tasks = new Map<string, unknown>();
    const received = stubUpstream((message) => {
      if (message.method === "tools/call") {
        const result = { content: [{ type: "text", text: `customer ${message.params.arguments.email}: Ada Lovelace, +44 20 7946 0000` }] };
        if (message.params.task === undefined) return result;
        const taskId = `task-${tasks.size + 1}`;
        tasks.set(taskId, result);
        return { task: { taskId, status: "completed", createdAt: new Date().toISOString(), lastUpdatedAt: new Date().toISOString(), ttl: 60_000 } };
      }
      if (message.method === "tasks/list") return { tasks: [...tasks.keys()].map((taskId) => ({ taskId, status: "completed" })) };
      if (message.method === "tasks/result") return tasks.get(message.params.taskId) ?? {};
      return {};
    });
    const server = await registerServer();
    const [reader, sender] = [freshAgent(), freshAgent()];

    const readerSession = await initialize(server, reader);
    const read = await (await post(server, reader, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "lookup_customer", arguments: { email: "ada@example.test" }, task: { ttl: 60_000 } } }, readerSession)).json();
    expect(decisionOf(read)).toMatchObject({ decision: "allow" });

    // Another agent of the tenant, which has read nothing, asks the upstream for tasks and their results.
    const senderSession = await initialize(server, sender);
    const listed = JSON.stringify(await (await post(server, sender, { jsonrpc: "2.0", id: 2, method: "tasks/list", params: {} }, senderSession)).json());
    const fetched = JSON.stringify(await (await post(server, sender, { jsonrpc: "2.0", id: 3, method: "tasks/result", params: { taskId: "task-1" } }, senderSession)).json());
    expect(listed).not.toContain("task-1");
    expect(fetched).not.toContain("Ada Lovelace");
    expect(received.filter((method) => method.startsWith("tasks/"))).toEqual([]);
    // And what it has not read, it may send.
    const send = await (await post(server, sender, { jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "send_email", arguments: { to: "outside@example.test", body: "hi" } } }, senderSession)).json();
    expect(decisionOf(send)).toMatchObject({ decision: "allow" });
  });

  it("are passed on for an upstream that keeps sessions, which binds its tasks to each", async () => {
    const received = stubUpstream((message) => (message.method === "tasks/list" ? { tasks: [] } : {}), "upstream-session-1");
    const server = await registerServer();
    const agent = freshAgent();
    const session = await initialize(server, agent);
    expect(await (await post(server, agent, { jsonrpc: "2.0", id: 2, method: "tasks/list", params: {} }, session)).json()).toMatchObject({ id: 2, result: { tasks: [] } });
    expect(received).toContain("tasks/list");
  });
});

describe("where an upstream may be registered", () => {
  const put = (url: string) => admin(`/mcp/acme/servers/${uniqueId("where").toLowerCase().slice(0, 60)}`, TEST_TOKENS.registrar, { method: "PUT", body: JSON.stringify({ url, tools: TOOLS }) });

  it("is never inside a network the edge reaches, nor the gateway itself", async () => {
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://metadata.google.internal/computeMetadata/v1/",
      "http://10.0.0.7:8080/mcp",
      "http://192.168.1.1/mcp",
      "http://[fd00::1]/mcp",
      "http://[::ffff:169.254.169.254]/mcp",
      "http://0xa9fea9fe/mcp",
      "https://printer.local./mcp",
      "http://edge/mcp/helpdesk",
    ]) {
      const refused = await put(url);
      expect(refused.status, url).toBe(400);
      expect(await refused.json(), url).toMatchObject({ error: { code: "invalid_input", path: "url" } });
    }
    // A public name is the tenant's to choose; loopback only where the deployment allows it (these tests do).
    expect((await put("https://helpdesk.internal.example/mcp")).status).toBe(201);
    expect((await put("http://127.0.0.1:9/mcp")).status).toBe(201);
  });

  it("is loopback only where the deployment says so (local development and the tests)", () => {
    for (const url of ["http://127.0.0.1:9/mcp", "http://localhost:3000/mcp", "http://[::1]/mcp", "http://127.1/mcp"]) {
      expect(upstreamDestinationProblem(url, {}, "https://edge.example"), url).toBeDefined();
      expect(upstreamDestinationProblem(url, { MCP_UPSTREAMS_TO_LOOPBACK: "on" }, "https://edge.example"), url).toBeUndefined();
    }
    expect(upstreamDestinationProblem("https://edge.example/mcp/other", { MCP_UPSTREAMS_TO_LOOPBACK: "on" }, "https://edge.example")).toBeDefined();
  });
});

/**
 * @module bench-mcp
 * The MCP gateway's cost, for `npm run bench`: the same `tools/call`, made
 * with the official client SDK, straight to an upstream built with the
 * official server SDK and through the gateway in front of it, in
 * alternating rounds of the same run, at concurrency 1. The gateway runs
 * the full path (the decision in the sandbox, the session object's
 * check-and-debit, the audit record, the signed receipt). The upstream, its
 * agent and its key are made for the run and thrown away after it. A
 * third target, a Worker in workerd that only passes each request on to the
 * upstream, measures what any gateway on this runtime adds before it does
 * any work of its own. A fourth, the same relay reaching the upstream
 * through a service binding to its socket, shows what Miniflare adds to
 * every fetch a Worker makes (it passes them through an outbound Worker of
 * its own, which Cloudflare does not have); the edge's fetches pay it too.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, randomUUID } from "node:crypto";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { NodeStreamableHTTPServerTransport } from "@modelcontextprotocol/node";
import { McpServer } from "@modelcontextprotocol/server";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { z } from "zod";
import { adminCall } from "./admin-client.ts";
import { benchAdminToken } from "./bench-agents.ts";
import { startEdge } from "./edge-server.ts";
import { summarize, type Summary } from "./stats.ts";

export interface McpBench {
  direct: Summary;
  relay: Summary;
  /** The relay over a service binding straight to the upstream's socket: no Miniflare outbound Worker on the way. */
  relayDirect: Summary;
  gateway: Summary;
  rounds: number;
}

async function startUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const transports = new Map<string, NodeStreamableHTTPServerTransport>();
  const http = createServer(async (req, res) => {
    const id = req.headers["mcp-session-id"];
    let transport = typeof id === "string" ? transports.get(id) : undefined;
    if (!transport) {
      const created = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => void transports.set(sid, created) });
      const server = new McpServer({ name: "bench-upstream", version: "1.0.0" });
      server.registerTool("read_ticket", { description: "Read a ticket", inputSchema: z.object({ id: z.string() }) }, async ({ id: ticket }) => ({ content: [{ type: "text", text: `ticket ${ticket}` }] }));
      await server.connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`,
    close: () => new Promise((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    }),
  };
}

/**
 * Two Workers that pass every request on to the upstream unchanged, each on a
 * socket bound directly to it as the edge's is: one with fetch() (through
 * Miniflare's outbound Worker, as the edge's fetches go), one with a service
 * binding to the upstream's address (no Worker in between).
 */
async function startRelayWorkers(upstreamUrl: string, port: number): Promise<{ url: string; directUrl: string; dispose(): Promise<void> }> {
  const upstream = new URL(upstreamUrl);
  const relay = { modules: true, compatibilityDate: "2026-11-01", bindings: { UPSTREAM: upstreamUrl } };
  const miniflare = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      workers: [
        {
          ...relay,
          name: "bench-relay",
          script: "export default { fetch: (request, env) => fetch(new Request(env.UPSTREAM, request)) };",
          unsafeDirectSockets: [{ host: "127.0.0.1", port }],
        },
        {
          ...relay,
          name: "bench-relay-direct",
          script: "export default { fetch: (request, env) => env.UPSTREAM_SOCKET.fetch(new Request(env.UPSTREAM, request)) };",
          serviceBindings: { UPSTREAM_SOCKET: { external: { address: upstream.host, http: {} } } },
          unsafeDirectSockets: [{ host: "127.0.0.1", port: port + 1 }],
        },
      ],
    } as Parameters<typeof convertV4MiniflareOptions>[0]),
  );
  await miniflare.ready;
  return { url: `http://127.0.0.1:${port}/mcp`, directUrl: `http://127.0.0.1:${port + 1}/mcp`, dispose: () => miniflare.dispose() };
}

async function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "bench-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** `vars`: the edge's [vars] overrides (SESSION_STATE and AUDIT "off" measure the gateway with the policy alone). */
export async function benchMcp(requests: number, rounds: number, vars: Record<string, string> = {}, port = 18796): Promise<McpBench> {
  const upstream = await startUpstream();
  const relayWorker = await startRelayWorkers(upstream.url, port + 10);
  const { token, entry } = benchAdminToken();
  const edge = await startEdge({ port, vars: { ...vars, ADMIN_TOKENS: JSON.stringify(entry), MCP_SECRET_KEY: randomBytes(32).toString("base64url"), MCP_UPSTREAMS_TO_LOOPBACK: "on" } });
  try {
    const target = { url: edge.url.origin, token };
    await adminCall(target, "PUT", "/registry/bench-mcp/agents/helper", { owner: "bench@localhost", role: "support", max_risk_tier: "high", certified_until: "2099-01-01" });
    const { key } = await adminCall<{ key: string }>(target, "POST", "/registry/bench-mcp/agents/helper/keys", {});
    await adminCall(target, "PUT", "/mcp/bench-mcp/servers/desk", { url: upstream.url, tools: { read_ticket: { tool: "tickets.read" } } });
    const openDirect = () => connect(upstream.url);
    const openRelayed = () => connect(relayWorker.url);
    const openRelayedDirect = () => connect(relayWorker.directUrl);
    let direct = await openDirect();
    let relayed = await openRelayed();
    let relayedDirect = await openRelayedDirect();
    // Each round opens a new MCP session, so a new Tollgate session: the role's per-session budget (500 calls) is never what answers.
    const openGateway = () => connect(new URL("/mcp/desk", edge.url).href, { authorization: `Bearer ${key}` });
    let gateway = await openGateway();
    const call = async (client: Client, i: number) => {
      const started = performance.now();
      const result = await client.callTool({ name: "read_ticket", arguments: { id: `T-${i}` } });
      const elapsed = performance.now() - started;
      if (result.isError) throw new Error(`bench tools/call failed: ${JSON.stringify(result.content)}`);
      return elapsed;
    };
    // Warm both paths (the sandbox, the session object, the registry cache) before measuring.
    for (let i = 0; i < 100; i++) {
      await call(direct, i);
      await call(relayed, i);
      await call(relayedDirect, i);
      await call(gateway, i);
    }
    const samples = { direct: [] as number[], relay: [] as number[], relayDirect: [] as number[], gateway: [] as number[] };
    const wall = { direct: 0, relay: 0, relayDirect: 0, gateway: 0 };
    const perRound = Math.min(400, Math.ceil(requests / rounds));
    for (let round = 0; round < rounds; round++) {
      // Every target gets a new client and session each round (untimed), so all three are timed with clients alike:
      // the client SDK keeps a listener per call it made on its transport, and a long-lived one grows.
      await Promise.all([direct.close(), relayed.close(), relayedDirect.close(), gateway.close()]);
      [direct, relayed, relayedDirect, gateway] = await Promise.all([openDirect(), openRelayed(), openRelayedDirect(), openGateway()]);
      for (const [name, client] of [["direct", direct], ["relay", relayed], ["relayDirect", relayedDirect], ["gateway", gateway]] as const) {
        const started = performance.now();
        for (let i = 0; i < perRound; i++) samples[name].push(await call(client, i));
        wall[name] += performance.now() - started;
      }
    }
    await Promise.all([direct.close(), relayed.close(), relayedDirect.close(), gateway.close()]);
    return {
      direct: summarize(samples.direct, wall.direct),
      relay: summarize(samples.relay, wall.relay),
      relayDirect: summarize(samples.relayDirect, wall.relayDirect),
      gateway: summarize(samples.gateway, wall.gateway),
      rounds,
    };
  } finally {
    await edge.dispose();
    await relayWorker.dispose();
    await upstream.close();
  }
}

/**
 * Global setup (Node): a tenant's alert receiver — webhooks served over
 * loopback HTTP, which the alerts Queue's consumer delivers to. Tests in
 * workerd read what arrived and choose how it answers:
 *
 *   POST /hook/<name>            a delivery: recorded (headers and body as sent), answered with the hook's status
 *   PUT  /hook/<name>/status     answer later deliveries to this hook with this status (default 200),
 *                                or never answer them ("hang": the connection stays open until the sender gives up)
 *   GET  /hook/<name>/received   {"received": [{headers, body, at}]}, oldest first
 *
 * Names are per test, so tests never see each other's deliveries.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "../fixtures/loopback-server.ts";
import { requestText } from "../fixtures/request-text.ts";
import type { TestProject } from "vitest/node";

interface Hook {
  status: number | "hang";
  received: Array<{ headers: Record<string, string>; body: string; at: number }>;
}

const MAX_BODY = 64 * 1024;

const readBody = (request: IncomingMessage) => requestText(request, MAX_BODY);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const hooks = new Map<string, Hook>();
  const hookOf = (name: string) => {
    let hook = hooks.get(name);
    if (!hook) hooks.set(name, (hook = { status: 200, received: [] }));
    return hook;
  };
  const answer = (response: ServerResponse, status: number, body: string) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(body);
  };
  const server = createServer(async (request, response) => {
    try {
      const match = /^\/hook\/([A-Za-z0-9._-]{1,128})(\/status|\/received)?$/.exec(new URL(request.url ?? "/", "http://x").pathname);
      if (!match) return answer(response, 404, JSON.stringify({ error: "no such route" }));
      const [, name, control] = match;
      const hook = hookOf(name);
      if (request.method === "POST" && control === undefined) {
        const headers = Object.fromEntries(Object.entries(request.headers).map(([key, value]) => [key, String(value)]));
        hook.received.push({ headers, body: await readBody(request), at: Date.now() });
        if (hook.status === "hang") return;
        return answer(response, hook.status, JSON.stringify({ ok: hook.status < 300 }));
      }
      if (request.method === "PUT" && control === "/status") {
        const status = await readBody(request);
        hook.status = status === "hang" ? "hang" : Number(status);
        return answer(response, 204, "");
      }
      if (request.method === "GET" && control === "/received") return answer(response, 200, JSON.stringify({ received: hook.received }));
      return answer(response, 405, JSON.stringify({ error: "method not allowed" }));
    } catch (error) {
      return answer(response, 400, JSON.stringify({ error: (error as Error).message }));
    }
  });
  const loopback = await listenOnLoopback(server);
  project.provide("webhookReceiverUrl", loopback.origin);
  return loopback.close;
}

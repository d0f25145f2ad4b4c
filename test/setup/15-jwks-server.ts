/**
 * Global setup (Node): a tenant's identity provider as far as Tollgate sees
 * it — a JWKS served over loopback HTTP, which the registry Durable Object
 * fetches (`jwks_uri`; plain http is allowed for 127.0.0.1). Tests running
 * in workerd change what it serves while they run:
 *
 *   PUT /jwks/<name>          serve this body (as given, even if not JSON) at GET /jwks/<name>, with 200
 *   PUT /jwks/<name>/status   answer GET /jwks/<name> with this status (e.g. 500: the provider is down)
 *   GET /jwks/<name>          the JWKS, as the registry fetches it (each request is counted)
 *   GET /jwks/<name>/hits     {"hits": n}: how many times GET /jwks/<name> was asked
 *
 * Names are per test, so tests never see each other's keys.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { listenOnLoopback } from "../fixtures/loopback-server.ts";
import { requestText } from "../fixtures/request-text.ts";
import type { TestProject } from "vitest/node";

interface Served {
  body: string;
  status: number;
  hits: number;
}

const MAX_BODY = 256 * 1024;

const readBody = (request: IncomingMessage) => requestText(request, MAX_BODY);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const served = new Map<string, Served>();
  const answer = (response: ServerResponse, status: number, body: string, type = "application/json") => {
    response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
    response.end(body);
  };

  const server = createServer(async (request, response) => {
    try {
      const match = /^\/jwks\/([A-Za-z0-9._-]{1,128})(\/status|\/hits)?$/.exec(new URL(request.url ?? "/", "http://x").pathname);
      if (!match) return answer(response, 404, JSON.stringify({ error: "no such route" }));
      const [, name, control] = match;
      const entry = served.get(name);
      if (request.method === "PUT" && control === undefined) {
        served.set(name, { body: await readBody(request), status: 200, hits: entry?.hits ?? 0 });
        return answer(response, 204, "");
      }
      if (request.method === "PUT" && control === "/status") {
        if (!entry) return answer(response, 404, JSON.stringify({ error: `no JWKS ${name}` }));
        const status = Number(await readBody(request));
        if (!Number.isInteger(status) || status < 200 || status > 599) return answer(response, 400, JSON.stringify({ error: "status is an HTTP status code" }));
        entry.status = status;
        return answer(response, 204, "");
      }
      if (request.method === "GET" && control === "/hits") return answer(response, 200, JSON.stringify({ hits: entry?.hits ?? 0 }));
      if (request.method === "GET" && control === undefined) {
        if (!entry) return answer(response, 404, JSON.stringify({ error: `no JWKS ${name}` }));
        entry.hits++;
        if (entry.status !== 200) return answer(response, entry.status, JSON.stringify({ error: "the provider is down" }));
        return answer(response, 200, entry.body);
      }
      return answer(response, 405, JSON.stringify({ error: "method not allowed" }));
    } catch (error) {
      return answer(response, 400, JSON.stringify({ error: (error as Error).message }));
    }
  });

  const loopback = await listenOnLoopback(server);
  project.provide("jwksServerUrl", loopback.origin);
  return loopback.close;
}

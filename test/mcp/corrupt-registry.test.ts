/**
 * A corrupt entry in a tenant's MCP server registry, inside workerd: the
 * gateway refuses that server with a clear error every time it is asked
 * (a corrupt entry is never kept as resolved), the tenant's other servers
 * keep resolving, and once the entry is registered again the next request
 * uses it. The corruption is written straight into the registry object's
 * SQLite, as a damaged store would hold it.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { serversObject } from "../../src/mcp/server-cache";
import { TEST_TOKENS } from "../fixtures/test-config";
import { bearer, type AgentSpec } from "../identity/credentials";
import { admin, uniqueId } from "../session/helpers";

const SPEC: AgentSpec = { tenant: "acme", agent: "registry-reader", role: "support" };

/** Registering answers with the tenant's new snapshot, which this isolate uses from the next request on. */
async function registerServer(name: string): Promise<void> {
  const body = { url: "http://127.0.0.1:9/mcp", tools: { read_ticket: { tool: "tickets.read" } }, credentials: { headers: { "x-upstream-key": "upstream-secret" } } };
  const response = await admin(`/mcp/acme/servers/${name}`, TEST_TOKENS.registrar, { method: "PUT", body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
}

async function initialize(name: string): Promise<Response> {
  return exports.default.fetch(`http://edge/mcp/${name}`, {
    method: "POST",
    headers: { ...(await bearer(SPEC)), "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "agent", version: "1" } } }),
  });
}

const errorCode = async (response: Response) => ((await response.json()) as { error?: { code?: string } }).error?.code;

function corrupt(name: string, column: "config" | "sealed", value: string): Promise<void> {
  return runInDurableObject(serversObject(env, "acme"), (_instance, state) => {
    state.storage.sql.exec(`UPDATE servers SET ${column} = ? WHERE name = ?`, value, name);
  });
}

describe("a corrupt entry in the MCP server registry", () => {
  it.each([
    ["a configuration that is not JSON", "config" as const, "{not json"],
    ["a configuration of the wrong shape", "config" as const, JSON.stringify({ url: 42 })],
    [
      "resource mappings that are not mappings",
      "config" as const,
      JSON.stringify({ url: "http://127.0.0.1:9/mcp", tools: {}, resources: { "tickets:// with a space": { tool: "tickets.read" }, "files://": "anything" } }),
    ],
    ["credentials this edge cannot open", "sealed" as const, "v1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"],
  ])("refuses that server with a clear error every time, for %s, and keeps serving the others", async (_what, column, value) => {
    const [damaged, healthy] = [uniqueId("damaged"), uniqueId("healthy")];
    await registerServer(damaged);
    // The damaged entry reaches this isolate with the next registry change.
    await corrupt(damaged, column, value);
    await registerServer(healthy);

    for (let attempt = 0; attempt < 2; attempt++) {
      const refused = await initialize(damaged);
      expect(refused.status).toBe(502);
      expect(await errorCode(refused)).toBe("registry_corrupt");
    }
    // The healthy server resolves: its upstream (a closed port) is what fails, with the gateway's own upstream error.
    const other = await initialize(healthy);
    expect(other.status).toBe(502);
    expect(((await other.json()) as { jsonrpc?: string }).jsonrpc).toBe("2.0");

    // Registered again, the entry is used from the next request on.
    await registerServer(damaged);
    const repaired = await initialize(damaged);
    expect(((await repaired.json()) as { jsonrpc?: string }).jsonrpc).toBe("2.0");
  });
});

/**
 * @module admin-mcp
 * A tenant's upstream MCP servers, through the admin API (`tollgate mcp …`).
 * Changes need the agent_admin role on the tenant; reading also suits its
 * operators and auditors (routes/admin-access.ts).
 *
 *   GET    /v1/admin/mcp/:tenant/servers            every server, without credentials
 *   GET    /v1/admin/mcp/:tenant/servers/:server    one server
 *   PUT    /v1/admin/mcp/:tenant/servers/:server    register or replace {url, tools, resources?, prompts?, answers?,
 *                                                   timeout_ms?, credentials?: {headers}, clear_credentials?}
 *   DELETE /v1/admin/mcp/:tenant/servers/:server    remove
 *   GET    /v1/admin/mcp/:tenant/changes            who changed which server, newest first
 *
 * Credentials are sealed here, at the edge, before they reach the registry
 * object; no answer ever carries them, only whether some are stored. An
 * upstream is never inside a network the edge reaches (upstream-schema.ts).
 */
import { Hono, type Context } from "hono";
import { ApiError } from "../errors";
import { credentialContext, serverCache, serversObject } from "../mcp/server-cache";
import type { ServersSnapshot, StoredEntry } from "../mcp/servers-do";
import { seal } from "../mcp/secret-box";
import { SERVER_NAME_MESSAGE, SERVER_NAME_PATTERN, upstreamDestinationProblem, upstreamRegistrationSchema } from "../mcp/upstream-schema";
import { principalOf, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";
import { tenantParam } from "./admin-params";
import { readJson, validated } from "./request-body";

type AdminContext = Context<{ Bindings: Env; Variables: AdminVariables }>;

/** A registration maps up to 500 tools, 200 resource prefixes and 500 prompts; 512 KiB holds that with room. */
const MAX_BODY_BYTES = 512 * 1024;
const REGISTRATION_LIMITS = { maxDepth: 8, maxArrayLength: 500, maxObjectKeys: 500, maxStringLength: 8192 };

function serverParam(c: AdminContext): string {
  const name = c.req.param("server") ?? "";
  if (!SERVER_NAME_PATTERN.test(name)) throw new ApiError(400, "invalid_server", SERVER_NAME_MESSAGE, "server");
  return name;
}

/** What an admin sees of a stored server: its configuration as stored, and whether credentials are. */
function view(name: string, entry: StoredEntry): Record<string, unknown> {
  let config: unknown;
  try {
    config = JSON.parse(entry.config);
  } catch {
    config = { corrupt: true };
  }
  return { server: name, ...(config as object), credentials: entry.sealed === null ? "none" : "stored", updated_at: entry.updated_at, updated_by: entry.updated_by };
}

/** This isolate uses the change from the next request on. */
function changed(env: Env, tenant: string, snapshot: ServersSnapshot): void {
  serverCache(env).put(tenant, snapshot, Date.now());
}

export const adminMcpRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .get("/mcp/:tenant/servers", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const snapshot = (await serversObject(c.env, tenant).snapshot(tenant)) as ServersSnapshot;
    return c.json({ tenant, servers: Object.entries(snapshot.servers).map(([name, entry]) => view(name, entry)) });
  })
  .get("/mcp/:tenant/servers/:server", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const name = serverParam(c);
    const snapshot = (await serversObject(c.env, tenant).snapshot(tenant)) as ServersSnapshot;
    const entry = Object.hasOwn(snapshot.servers, name) ? snapshot.servers[name] : undefined;
    if (!entry) throw new ApiError(404, "not_found", `${tenant} has no MCP server ${name}`);
    return c.json(view(name, entry));
  })
  .put("/mcp/:tenant/servers/:server", jsonBody(MAX_BODY_BYTES), async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const name = serverParam(c);
    const body = validated(upstreamRegistrationSchema, await readJson(c, REGISTRATION_LIMITS));
    if (body.credentials && body.clear_credentials) throw new ApiError(400, "invalid_input", "send credentials or clear_credentials, not both", "clear_credentials");
    const destination = upstreamDestinationProblem(body.url, c.env, new URL(c.req.url).origin);
    if (destination) throw new ApiError(400, "invalid_input", `url: ${destination}`, "url");
    const { credentials, clear_credentials: clear, ...config } = body;
    const sealed = credentials ? await seal(c.env, "upstream-credentials", JSON.stringify(credentials.headers), credentialContext(tenant, name)) : clear ? null : undefined;
    const outcome = await serversObject(c.env, tenant).put(tenant, name, config, sealed, principalOf(c).subject);
    if (!outcome.ok) throw new ApiError(outcome.status, outcome.code, outcome.message);
    changed(c.env, tenant, outcome.snapshot as ServersSnapshot);
    c.header("cache-control", "no-store");
    return c.json(view(name, (outcome.snapshot as ServersSnapshot).servers[name]), outcome.created ? 201 : 200);
  })
  .delete("/mcp/:tenant/servers/:server", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const name = serverParam(c);
    const outcome = await serversObject(c.env, tenant).remove(tenant, name, principalOf(c).subject);
    if (!outcome.removed) throw new ApiError(404, "not_found", `${tenant} has no MCP server ${name}`);
    changed(c.env, tenant, outcome.snapshot as ServersSnapshot);
    return c.json({ server: name, removed: true });
  })
  .get("/mcp/:tenant/changes", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const limit = c.req.query("limit") ?? "100";
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw new ApiError(400, "invalid_input", "limit is 1 to 1000", "limit");
    return c.json({ tenant, changes: await serversObject(c.env, tenant).changes(Number(limit)) });
  });

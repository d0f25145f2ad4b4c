/**
 * @module server-cache
 * This isolate's copies of each tenant's upstream registry, so a request to
 * `/mcp/<server>` does not wait on a Durable Object: each tenant's snapshot
 * is re-read at most once per IDENTITY_REFRESH_SECONDS (a removed server or
 * a rotated credential reaches every edge within that interval, at once on
 * the edge that changed it), and served up to IDENTITY_MAX_STALENESS_SECONDS
 * while the object cannot be reached, never longer. Entries are parsed and
 * checked when used: a corrupt stored entry is refused, not half-used.
 */
import { ApiError } from "../errors";
import { RefreshingCache, SourceUnavailable } from "../identity/refreshing-cache";
import type { ServersSnapshot } from "./servers-do";
import { credentialHeadersSchema, storedServerSchema, type StoredServer } from "./upstream-schema";
import { unseal } from "./secret-box";

const LOAD_TIMEOUT_MS = 2_000;
const MAX_TENANTS = 2_000;

export function serversObject(env: Env, tenant: string) {
  return env.MCP_SERVERS.get(env.MCP_SERVERS.idFromName(tenant));
}

let cache: RefreshingCache<ServersSnapshot> | undefined;

function seconds(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

export function serverCache(env: Env): RefreshingCache<ServersSnapshot> {
  if (cache) return cache;
  const refreshMs = seconds(env.IDENTITY_REFRESH_SECONDS, 30) * 1000;
  const maxStaleMs = Math.max(refreshMs, seconds(env.IDENTITY_MAX_STALENESS_SECONDS, 300) * 1000);
  cache = new RefreshingCache<ServersSnapshot>(async (tenant) => (await serversObject(env, tenant).snapshot(tenant)) as ServersSnapshot, {
    refreshMs,
    maxStaleMs,
    timeoutMs: LOAD_TIMEOUT_MS,
    maxEntries: MAX_TENANTS,
    version: (snapshot) => snapshot.version,
  });
  return cache;
}

/** One upstream, ready to be called: its checked configuration and its credentials, opened. */
export interface ResolvedServer {
  tenant: string;
  name: string;
  config: StoredServer;
  headers: Record<string, string>;
}

/**
 * Entries already checked and opened, per snapshot: a refreshed snapshot is
 * a new object, so nothing here outlives the copy it was made from (a
 * removed server or a rotated credential is never served from it). Only
 * entries that resolved are kept; a corrupt one is refused every time.
 */
const resolvedBySnapshot = new WeakMap<ServersSnapshot, Map<string, ResolvedServer>>();

/** The context a server's sealed credentials are bound to: moved to another tenant or name, they do not open. */
export const credentialContext = (tenant: string, name: string) => JSON.stringify(["upstream-credentials", tenant, name]);

/**
 * The tenant's server `name`: 404 when it has none by that name, 503 when
 * the registry cannot be reached and the copy held is too old, 502 when
 * what is stored does not parse or its credentials do not open.
 */
export async function resolveServer(env: Env, tenant: string, name: string, nowMs: number, background: (work: Promise<unknown>) => void): Promise<ResolvedServer> {
  let snapshot: ServersSnapshot;
  try {
    snapshot = await serverCache(env).get(tenant, nowMs, background);
  } catch (error) {
    if (error instanceof SourceUnavailable) throw new ApiError(503, "registry_unavailable", `the MCP server registry of ${tenant} cannot be reached`);
    throw error;
  }
  const known = resolvedBySnapshot.get(snapshot)?.get(name);
  if (known) return known;
  const entry = Object.hasOwn(snapshot.servers ?? {}, name) ? snapshot.servers[name] : undefined;
  if (!entry) throw new ApiError(404, "not_found", `${tenant} has no MCP server ${name}`);
  const corrupt = (why: string) => new ApiError(502, "registry_corrupt", `the stored entry of MCP server ${name} ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.config);
  } catch {
    throw corrupt("is not JSON");
  }
  const config = storedServerSchema.safeParse(parsed);
  if (!config.success) throw corrupt(`is malformed (${config.error.issues[0].path.join(".")}: ${config.error.issues[0].message})`);
  let headers: Record<string, string> = {};
  if (entry.sealed !== null) {
    const opened = await unseal(env, "upstream-credentials", entry.sealed, credentialContext(tenant, name));
    if (opened === undefined) throw corrupt("has credentials this edge cannot open");
    let value: unknown;
    try {
      value = JSON.parse(opened);
    } catch {
      throw corrupt("has credentials that are not JSON");
    }
    const checked = credentialHeadersSchema.safeParse(value);
    if (!checked.success) throw corrupt("has malformed credentials");
    headers = checked.data;
  }
  const server: ResolvedServer = Object.freeze({ tenant, name, config: config.data, headers: Object.freeze(headers) });
  const resolved = resolvedBySnapshot.get(snapshot) ?? new Map<string, ResolvedServer>();
  resolvedBySnapshot.set(snapshot, resolved.set(name, server));
  return server;
}

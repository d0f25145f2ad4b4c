/**
 * @module servers-do
 * One Durable Object per tenant: the upstream MCP servers the tenant
 * registered, the single writer of them, and the record of who changed
 * which and when. Credentials arrive here already sealed by the edge
 * (secret-box.ts) and leave only sealed: nothing in this object, its
 * storage or its answers can show them. Edges do not ask it per request:
 * they cache its snapshot (server-cache.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { migrate, type Migration } from "../session/migrations";
import type { StoredServer } from "./upstream-schema";

const MIGRATIONS: Migration[] = [
  [
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE servers (name TEXT PRIMARY KEY, config TEXT NOT NULL, sealed TEXT, updated_ms INTEGER NOT NULL, updated_by TEXT NOT NULL)",
    "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, server TEXT NOT NULL)",
  ],
];

/** A tenant registers at most this many upstreams. */
export const MAX_SERVERS = 200;

export interface StoredEntry {
  /** The stored configuration as JSON text: the edge parses and checks it, it trusts nothing it reads back. */
  config: string;
  sealed: string | null;
  updated_at: string;
  updated_by: string;
}

export interface ServersSnapshot {
  tenant: string;
  version: number;
  servers: Record<string, StoredEntry>;
}

interface Row {
  name: string;
  config: string;
  sealed: string | null;
  updated_ms: number;
  updated_by: string;
  [column: string]: SqlStorageValue;
}

/** An upstream URL's origin (scheme, host, port); a stored config that does not parse has none. */
function originOf(url: string | undefined): string {
  try {
    return new URL(url ?? "").origin;
  } catch {
    return "(none)";
  }
}

function storedUrl(config: string): string | undefined {
  try {
    return (JSON.parse(config) as { url?: string }).url;
  } catch {
    return undefined;
  }
}

export class McpServersDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  private version(): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE name = 'version'").toArray()[0]?.value ?? 0;
  }

  private bump(actor: string, action: string, server: string, now: number): void {
    this.sql.exec("INSERT INTO meta (name, value) VALUES ('version', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1");
    this.sql.exec("INSERT INTO changes (at_ms, actor, action, server) VALUES (?, ?, ?, ?)", now, actor, action, server);
  }

  /**
   * Registers or replaces a server. `sealed`: new sealed credentials, null to
   * drop them, undefined to keep what is stored.
   */
  async put(tenant: string, name: string, config: StoredServer, sealed: string | null | undefined, actor: string): Promise<{ ok: true; created: boolean; snapshot: ServersSnapshot } | { ok: false; status: 409; code: string; message: string }> {
    const now = Date.now();
    const existing = this.sql.exec<Row>("SELECT * FROM servers WHERE name = ?", name).toArray()[0];
    if (!existing && this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM servers").one().n >= MAX_SERVERS) {
      return { ok: false, status: 409, code: "too_many_servers", message: `${tenant} already registers ${MAX_SERVERS} MCP servers` };
    }
    // Stored credentials were given for one upstream: moved to another origin (another host, or http
    // in place of https), they would be sent there. A move keeps none unless they are sent again.
    const moved = existing !== undefined && originOf(storedUrl(existing.config)) !== originOf(config.url);
    if (sealed === undefined && moved && existing.sealed !== null) {
      return {
        ok: false,
        status: 409,
        code: "credentials_bound_to_origin",
        message: `${name}'s stored credentials were given for ${originOf(storedUrl(existing.config))}; moving it to ${originOf(config.url)} needs its credentials sent again, or clear_credentials`,
      };
    }
    const keep = sealed === undefined ? (existing?.sealed ?? null) : sealed;
    this.sql.exec(
      "INSERT INTO servers (name, config, sealed, updated_ms, updated_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET config = excluded.config, sealed = excluded.sealed, updated_ms = excluded.updated_ms, updated_by = excluded.updated_by",
      name,
      JSON.stringify(config),
      keep,
      now,
      actor,
    );
    this.bump(actor, !existing ? "server_registered" : moved ? "server_moved" : "server_updated", name, now);
    return { ok: true, created: !existing, snapshot: this.snapshot(tenant) };
  }

  async remove(tenant: string, name: string, actor: string): Promise<{ removed: boolean; snapshot: ServersSnapshot }> {
    const removed = this.sql.exec("DELETE FROM servers WHERE name = ?", name).rowsWritten > 0;
    if (removed) this.bump(actor, "server_removed", name, Date.now());
    return { removed, snapshot: this.snapshot(tenant) };
  }

  async changes(limit: number): Promise<Array<{ seq: number; at: string; actor: string; action: string; server: string }>> {
    return this.sql
      .exec<{ seq: number; at_ms: number; actor: string; action: string; server: string }>("SELECT * FROM changes ORDER BY seq DESC LIMIT ?", limit)
      .toArray()
      .map((row) => ({ seq: row.seq, at: new Date(row.at_ms).toISOString(), actor: row.actor, action: row.action, server: row.server }));
  }

  snapshot(tenant: string): ServersSnapshot {
    const servers: Record<string, StoredEntry> = {};
    for (const row of this.sql.exec<Row>("SELECT * FROM servers ORDER BY name").toArray()) {
      servers[row.name] = { config: row.config, sealed: row.sealed, updated_at: new Date(row.updated_ms).toISOString(), updated_by: row.updated_by };
    }
    return { tenant, version: this.version(), servers };
  }
}

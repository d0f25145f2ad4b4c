/**
 * @module directory-do
 * Which tenant registered which token issuer: one Durable Object for the
 * whole deployment, so two tenants can never claim the same issuer (a JWT
 * names its issuer, and the issuer names the tenant whose keys must verify
 * it). Edges cache the whole directory, which is small, and refresh it
 * within one refresh interval; it is never asked per decision.
 */
import { DurableObject } from "cloudflare:workers";
import { migrate, type Migration } from "../session/migrations";

const MIGRATIONS: Migration[] = [
  ["CREATE TABLE issuers (issuer TEXT PRIMARY KEY, tenant TEXT NOT NULL)", "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"],
];

export interface DirectorySnapshot {
  version: number;
  issuers: Record<string, string>;
}

export class IssuerDirectoryDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  private bump(): void {
    this.sql.exec("INSERT INTO meta (name, value) VALUES ('version', 1) ON CONFLICT (name) DO UPDATE SET value = value + 1");
  }

  async claim(issuer: string, tenant: string): Promise<{ ok: boolean; tenant: string }> {
    const holder = this.sql.exec<{ tenant: string }>("SELECT tenant FROM issuers WHERE issuer = ?", issuer).toArray()[0]?.tenant;
    if (holder !== undefined) return { ok: holder === tenant, tenant: holder };
    this.sql.exec("INSERT INTO issuers (issuer, tenant) VALUES (?, ?)", issuer, tenant);
    this.bump();
    return { ok: true, tenant };
  }

  async release(issuer: string, tenant: string): Promise<void> {
    if (this.sql.exec("DELETE FROM issuers WHERE issuer = ? AND tenant = ?", issuer, tenant).rowsWritten > 0) this.bump();
  }

  async snapshot(): Promise<DirectorySnapshot> {
    // fromEntries defines own members, whatever an issuer is called.
    const issuers: Record<string, string> = Object.fromEntries(
      this.sql
        .exec<{ issuer: string; tenant: string }>("SELECT issuer, tenant FROM issuers")
        .toArray()
        .map((row) => [row.issuer, row.tenant]),
    );
    const version = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE name = 'version'").toArray()[0]?.value ?? 0;
    return { version, issuers };
  }
}

export function issuerDirectory(env: Env) {
  return env.ISSUERS.get(env.ISSUERS.idFromName("issuers"));
}

/**
 * @module sign-outs-do
 * Console sessions that were signed out before they expired: one Durable
 * Object for the whole deployment, asked on every console request. A
 * console cookie is a signed claim that the server keeps no copy of
 * (console-session.ts), so without this list a cookie copied before
 * sign-out would keep working until its expiry, wherever it was used.
 * Each entry is kept only until the session would have expired anyway, so
 * the list holds at most one working day of sign-outs.
 */
import { DurableObject } from "cloudflare:workers";
import { migrate, type Migration } from "../session/migrations";

const MIGRATIONS: Migration[] = [["CREATE TABLE signed_out (nonce TEXT PRIMARY KEY, until_ms INTEGER NOT NULL)"]];

/** A session's nonce, as console-session.ts makes it. */
const NONCE = /^[0-9a-f]{32}$/;

export class ConsoleSignOutsDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => migrate(this.sql, MIGRATIONS));
  }

  /** Ends the session with this nonce until `untilMs`, when it would have expired; entries past theirs go at the same time. */
  async signOut(nonce: string, untilMs: number): Promise<void> {
    if (!NONCE.test(nonce) || !Number.isSafeInteger(untilMs)) throw new TypeError("a sign-out names a session nonce and when the session expires");
    this.sql.exec("DELETE FROM signed_out WHERE until_ms < ?", Date.now());
    this.sql.exec("INSERT INTO signed_out (nonce, until_ms) VALUES (?, ?) ON CONFLICT (nonce) DO UPDATE SET until_ms = MAX(until_ms, excluded.until_ms)", nonce, untilMs);
  }

  async isSignedOut(nonce: string): Promise<boolean> {
    return this.sql.exec("SELECT 1 FROM signed_out WHERE nonce = ?", nonce).toArray().length > 0;
  }
}

export function consoleSignOuts(env: Env) {
  return env.CONSOLE_SIGN_OUTS.get(env.CONSOLE_SIGN_OUTS.idFromName("console"));
}

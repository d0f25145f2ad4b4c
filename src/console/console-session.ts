/**
 * @module console-session
 * A console sign-in: an admin token, exchanged once for a session cookie.
 *
 * The cookie carries no token and no grant: only the sha256 of the token
 * (what ADMIN_TOKENS is keyed by), when the session began and a random
 * nonce, signed with HMAC-SHA256 (CONSOLE_SESSION_KEY) by Hono's signed
 * cookies. On every request the principal is looked up again in
 * ADMIN_TOKENS, so what a person sees follows the token's roles and scopes
 * as they are now, and a token taken out of the table ends its sessions.
 * The cookie is HttpOnly, SameSite=Strict, Secure (with the `__Host-`
 * prefix) whenever the console is served over TLS, and lasts at most
 * SESSION_SECONDS from sign-in, whatever a client does with Max-Age.
 * Signing out ends the session on the server too (sign-outs-do.ts): a copy
 * of the cookie taken before is refused from then on, at every location.
 *
 * Every change also carries a CSRF token bound to the session's nonce
 * (HMAC of it, with the same key), on top of the Origin / Sec-Fetch-Site
 * check Hono's csrf middleware makes.
 */
import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import { randomHex, toHex } from "../../packages/agent/src/hex.ts";
import { sha256Hex } from "../bundles/canonical";
import { ApiError } from "../errors";
import { principalForTokenHash } from "../middleware/admin-auth";
import type { Principal } from "../schema/admin-principal";
import { consoleSignOuts } from "./sign-outs-do";

/** How long a sign-in lasts: a working day. */
export const SESSION_SECONDS = 8 * 3600;
const COOKIE = "tollgate_console";

export interface ConsoleSession {
  principal: Principal;
  /** Bound into the CSRF token. */
  nonce: string;
  issuedMs: number;
}

/** The signing key, or 503 with what to do: an empty key would let anyone forge a session. */
export function sessionKey(env: Env): string {
  const key = (env as { CONSOLE_SESSION_KEY?: string }).CONSOLE_SESSION_KEY ?? "";
  if (!/^[A-Za-z0-9_-]{43,}$/.test(key)) {
    throw new ApiError(503, "console_not_configured", "the console is closed: set the CONSOLE_SESSION_KEY secret to 32 or more random bytes in base64url (npm start writes one for local runs)");
  }
  return key;
}

const overTls = (c: Context) => new URL(c.req.url).protocol === "https:";

/** `__Host-` needs Secure, so plain-HTTP local runs use the bare name. */
function cookieOptions(c: Context) {
  return overTls(c) ? ({ prefix: "host", secure: true } as const) : ({} as const);
}

/** Checks the token against ADMIN_TOKENS and starts a session; 401 for a token it does not know. */
export async function signIn<E extends { Bindings: Env }>(c: Context<E>, token: string): Promise<Principal> {
  const key = sessionKey(c.env);
  const hash = await sha256Hex(token.trim());
  const principal = principalForTokenHash(c.env, hash);
  if (!principal) throw new ApiError(401, "unauthenticated", "that token is not an admin token of this deployment; check it was copied whole");
  const value = `v1.${hash}.${Date.now()}.${randomHex(16)}`;
  await setSignedCookie(c, COOKIE, value, key, { ...cookieOptions(c), httpOnly: true, sameSite: "Strict", path: "/", maxAge: SESSION_SECONDS });
  return principal;
}

/**
 * Ends the session on the server, then in the browser. When the server
 * cannot record it, 503: the cookie is left as it is rather than cleared
 * here while a copy of it would go on working elsewhere.
 */
export async function signOut<E extends { Bindings: Env }>(c: Context<E>, session: ConsoleSession): Promise<void> {
  try {
    await consoleSignOuts(c.env).signOut(session.nonce, session.issuedMs + SESSION_SECONDS * 1000);
  } catch {
    throw new ApiError(503, "sign_out_failed", "the console could not end this session on the server, so it is still signed in; try signing out again");
  }
  deleteCookie(c, COOKIE, { ...cookieOptions(c), path: "/" });
}

/** Whether the session was signed out; 503 when that cannot be known, since a signed-out copy of the cookie must not get in. */
async function signedOut(env: Env, nonce: string): Promise<boolean> {
  try {
    return await consoleSignOuts(env).isSignedOut(nonce);
  } catch {
    throw new ApiError(503, "console_unavailable", "the console cannot check its sessions right now; try again in a moment");
  }
}

/** The session the request's cookie proves, or undefined (none, forged, expired, or its token withdrawn). */
export async function currentSession<E extends { Bindings: Env }>(c: Context<E>): Promise<ConsoleSession | undefined> {
  const key = sessionKey(c.env);
  const prefix = overTls(c) ? "host" : undefined;
  const value = await getSignedCookie(c, key, COOKIE, prefix);
  if (typeof value !== "string") return undefined;
  const match = /^v1\.([0-9a-f]{64})\.(\d{1,15})\.([0-9a-f]{32})$/.exec(value);
  if (!match) return undefined;
  const issuedMs = Number(match[2]);
  const age = Date.now() - issuedMs;
  if (age < 0 || age > SESSION_SECONDS * 1000) return undefined;
  const principal = principalForTokenHash(c.env, match[1]);
  if (!principal || (await signedOut(c.env, match[3]))) return undefined;
  return { principal, nonce: match[3], issuedMs };
}

async function hmacHex(key: string, text: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey("raw", new TextEncoder().encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", cryptoKey, new TextEncoder().encode(text));
  return toHex(new Uint8Array(mac));
}

/** The session's CSRF token, put in every form it is shown. */
export function csrfToken(env: Env, session: ConsoleSession): Promise<string> {
  return hmacHex(sessionKey(env), `csrf.${session.nonce}`);
}

/** Refuses a change whose form does not carry this session's CSRF token (403). */
export async function checkCsrf(env: Env, session: ConsoleSession, presented: unknown): Promise<void> {
  const expected = await csrfToken(env, session);
  const given = typeof presented === "string" ? presented : "";
  // Compared in constant time: both sides are hex of the same length when they match.
  let difference = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ (given.charCodeAt(i) || 0);
  if (difference !== 0) throw new ApiError(403, "csrf", "this form has expired or did not come from the console; reload the page and try again");
}

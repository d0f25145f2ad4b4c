/**
 * @module session-id
 * The `Mcp-Session-Id` the gateway gives a client. It is the session's
 * state itself, sealed (secret-box.ts): the tenant and agent it belongs
 * to, the server, the upstream's own session id (which the client never
 * sees), the protocol version and elicitation modes the client declared,
 * and the Tollgate session its calls are governed in. Any edge can open it
 * without a lookup, and nobody else can read or forge one. A session id
 * that does not open, or that belongs to another agent or server, is
 * unknown: 404, as MCP says, so the client starts a new session.
 */
import { seal, unseal } from "./secret-box";

export interface GatewaySession {
  tenant: string;
  agent: string;
  server: string;
  /** The upstream's Mcp-Session-Id, when it gave one. */
  upstream?: string;
  /** The protocol version the client and upstream agreed on. */
  protocol: string;
  /** The client declared URL-mode elicitation (MCP 2025-11-25). */
  url_elicitation: boolean;
  /** The Tollgate session the calls of this MCP session are governed in (budgets, breaker, approvals, taint). */
  tollgate_session: string;
  created_ms: number;
}

const CONTEXT = "mcp-session";

export function sealSession(env: Env, session: GatewaySession): Promise<string> {
  return seal(env, "mcp-session", JSON.stringify(session), CONTEXT);
}

/**
 * Session ids this isolate has opened, by their exact text, so a client's
 * every request does not decrypt it again. A sealed id only ever opens to
 * one plaintext, so the copy cannot differ from a fresh unseal; it is
 * dropped when the deployment's key is not the one that opened it, and the
 * tenant, agent and server are still checked on every request.
 */
const MAX_OPENED = 10_000;
const opened = new Map<string, GatewaySession>();
let openedWith: string | undefined;

function remember(id: string, session: GatewaySession): void {
  opened.set(id, session);
  if (opened.size > MAX_OPENED) opened.delete(opened.keys().next().value!);
}

/** The session, if `id` is one this deployment sealed for this tenant, agent and server. */
export async function openSession(env: Env, id: string, expected: { tenant: string; agent: string; server: string }): Promise<GatewaySession | undefined> {
  if (id.length > 4096 || !/^[\x21-\x7e]+$/.test(id)) return undefined;
  if (openedWith !== env.MCP_SECRET_KEY) {
    opened.clear();
    openedWith = env.MCP_SECRET_KEY;
  }
  let session = opened.get(id);
  if (!session) {
    const text = await unseal(env, "mcp-session", id, CONTEXT);
    if (text === undefined) return undefined;
    try {
      session = Object.freeze(JSON.parse(text) as GatewaySession);
    } catch {
      return undefined;
    }
    remember(id, session);
  }
  if (session.tenant !== expected.tenant || session.agent !== expected.agent || session.server !== expected.server) return undefined;
  return session;
}

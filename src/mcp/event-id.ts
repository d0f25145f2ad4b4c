/**
 * @module event-id
 * The ids of the events the gateway streams to a client in answer to a
 * request, so the client can resume a stream that broke (`Last-Event-ID`
 * on a GET, MCP 2025-11-25). An id is the resume point sealed
 * (secret-box.ts): the upstream's own event id, the request the stream
 * answers, and for a decided request (a tool call, a resource read, a
 * prompt, a completion) what it named and its decision, so that a resumed
 * answer still passes through what the gateway does to an answer (the
 * session records the data classes its mapping says it carries) and still
 * names its decision; for a listing, which listing, so it is filtered
 * again. The seal binds the MCP session (tenant, agent, server, Tollgate
 * session, the upstream's session): an id from another session does not
 * open, and a client cannot forge one that skips that step.
 */
import type { JsonRpcId } from "./jsonrpc";
import type { GovernedMethod, ListingMethod, RegistryTable } from "./registry-mapping";
import type { GatewaySession } from "./session-id";
import { seal, unseal } from "./secret-box";

export interface ResumePoint {
  /** The upstream's event id: where its stream is resumed. */
  upstream: string;
  /** The request whose answer the stream carries. */
  request: JsonRpcId;
  /**
   * What the gateway does to the answer: a governed request's (what it named,
   * the decision that allowed it), a listing's (with the id it went upstream
   * under, governed-listing.ts), or nothing.
   */
  answer:
    | { kind: "call"; method: GovernedMethod; table: RegistryTable; name: string; decision_id: string }
    | { kind: "list"; method: ListingMethod; upstream_request?: JsonRpcId }
    | { kind: "relay" };
}

/** The most an id may be: a sealed resume point with a long upstream id stays well under it. */
const MAX_EVENT_ID_LENGTH = 4096;

/** One MCP session exactly: two sessions that share a Tollgate session (a named one) still differ in their upstream session and start. */
const contextOf = (session: GatewaySession) =>
  JSON.stringify(["mcp-event", session.tenant, session.agent, session.server, session.tollgate_session, session.upstream ?? null, session.created_ms]);

/** The ids of one stream's events: each upstream event id sealed with the request the stream answers and what is done to the answer. */
export function eventIdsFor(env: Env, session: GatewaySession, request: JsonRpcId, answer: ResumePoint["answer"]): (upstream: string) => Promise<string> {
  return (upstream) => seal(env, "mcp-event", JSON.stringify({ upstream, request, answer } satisfies ResumePoint), contextOf(session));
}

/** The resume point, if `id` is an event id the gateway gave this session; undefined for anything else. */
export async function openEventId(env: Env, session: GatewaySession, id: string): Promise<ResumePoint | undefined> {
  if (id.length > MAX_EVENT_ID_LENGTH) return undefined;
  const text = await unseal(env, "mcp-event", id, contextOf(session));
  if (text === undefined) return undefined;
  const point = JSON.parse(text) as ResumePoint;
  return typeof point.upstream === "string" && typeof point.answer?.kind === "string" ? point : undefined;
}

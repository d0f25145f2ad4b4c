/**
 * @module gateway-route
 * `/mcp/<server>`: a Streamable HTTP MCP endpoint (protocol revisions
 * 2025-11-25 and 2025-06-18) in front of the upstream the credential's
 * tenant registered under that name.
 *
 * - POST carries one JSON-RPC message. `initialize` opens an upstream
 *   session and answers with the gateway's own `Mcp-Session-Id`
 *   (session-id.ts); `tools/call`, `resources/read`,
 *   `resources/subscribe`, `prompts/get` and `completion/complete` are
 *   decided (governed-request.ts), and the listings of tools, resources,
 *   resource templates and prompts filtered (governed-listing.ts); the rest
 *   of MCP's requests (ping, unsubscribing, logging levels, and tasks within
 *   an upstream session) are relayed as the upstream answers them, and any
 *   other method is not found; the notifications MCP has clients send are
 *   passed on (202), and the client's answers to the upstream's requests
 *   too once decided (governed-answer.ts; refused, 403). Every message goes
 *   upstream rebuilt from the fields MCP defines for it (upstream-message.ts).
 * - GET relays the upstream's standalone SSE stream (405 if it has none),
 *   and to a client that declared URL-mode elicitation also carries
 *   `notifications/elicitation/complete` (elicitation-notices.ts). A GET
 *   with `Last-Event-ID` resumes a stream that answered a request
 *   (stream-resume.ts).
 * - DELETE ends the upstream session.
 *
 * Transport errors are HTTP statuses with a JSON-RPC error body: 400 for a
 * message that is not JSON (-32700) or not a message (-32600), or a missing
 * session id; 404 for a session this agent does not have, or one the
 * upstream ended (the client then initializes again); 406, 413, 415 as
 * HTTP says; 502/504 when the upstream cannot open a session.
 */
import { Hono, type Context } from "hono";
import { cappedBytes, declaresTooLarge, strictUtf8 } from "../streams/capped-text";
import { locationOf } from "../decision/region";
import { ApiError } from "../errors";
import { identityOf, type AgentEnv } from "../middleware/agent-auth";
import { gatewayAuth } from "./gateway-auth";
import { targetOf, timeoutOf, type GatewayContext } from "./gateway-context";
import { errorMessage, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, JsonRpcFault, METHOD_NOT_FOUND, PARSE_ERROR, parseMessage, UPSTREAM_ERROR, type JsonRpcId } from "./jsonrpc";
import { resolveServer, type ResolvedServer } from "./server-cache";
import { openSession, sealSession, type GatewaySession } from "./session-id";
import { governedAnswer } from "./governed-answer";
import { governedRequest } from "./governed-request";
import { governedListing } from "./governed-listing";
import { isGovernedMethod, isListingMethod } from "./registry-mapping";
import { announceSettledElicitations } from "./elicitation-notices";
import { eventIdsFor } from "./event-id";
import { ChannelClosed, EventChannel } from "./event-channel";
import { collectReply, isEventStream, sendToUpstream, UpstreamFault, type Exchange } from "./upstream-call";
import { resumeStream } from "./stream-resume";
import { jsonResponse, relay, relayStream } from "./upstream-relay";
import { notificationMessage, relayedMessage } from "./upstream-message";
import { SERVER_NAME_PATTERN } from "./upstream-schema";

/** The largest message a client may send; a tool's arguments larger than this are not a tool call. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** The revisions the gateway speaks; the SDKs' 2025-03-26 fallback is accepted too. */
export const PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"];

type GatewayCtx = Context<AgentEnv>;

const rpcError = (status: number, code: number, message: string, id: JsonRpcId | null = null) => jsonResponse(errorMessage(id, code, message), status);

/**
 * The requests passed to the upstream as they are, beside the governed ones
 * and the listings: the rest of what MCP (2025-11-25) defines from client to
 * server. Any other method is "method not found" here, so no upstream that
 * reads names loosely (`Tools/Call`) or runs methods of its own is handed a
 * request nobody decided. Likewise only `notifications/…` pass as
 * notifications: a `tools/call` without an id is a call all the same to an
 * upstream that runs whatever names a method.
 */
const RELAYED_METHODS = new Set(["ping", "logging/setLevel", "resources/unsubscribe", "tasks/get", "tasks/result", "tasks/list", "tasks/cancel"]);

/**
 * An upstream binds its tasks to the MCP session that made them; one that
 * keeps no sessions binds them to nobody it can tell apart, since every agent
 * of the tenant reaches it as the gateway, with the same credential. Through
 * it, `tasks/list` and `tasks/result` would hand one agent another's results
 * (the data classes recorded with the agent that made the call only), so the
 * gateway passes task requests on only within an upstream session.
 */
const TASK_PREFIX = "tasks/";
const NOTIFICATION_PREFIX = "notifications/";

function serverName(c: GatewayCtx): string {
  const name = c.req.param("server") ?? "";
  if (!SERVER_NAME_PATTERN.test(name)) throw new ApiError(404, "not_found", `no MCP server ${name}`);
  return name;
}

/** Reads the body, refusing one over the limit whether it declared its length or streamed it. */
async function readBody(c: GatewayCtx): Promise<string | Response> {
  const tooLarge = () => rpcError(413, INVALID_REQUEST, `a message is at most ${MAX_MESSAGE_BYTES} bytes`);
  if (await declaresTooLarge(c.req.raw, MAX_MESSAGE_BYTES)) return tooLarge();
  const read = await cappedBytes(c.req.raw.body, MAX_MESSAGE_BYTES);
  if ("tooLarge" in read) return tooLarge();
  // JSON-RPC messages are JSON, which is UTF-8: other bytes are a parse error, not text repaired with U+FFFD.
  return strictUtf8(read.bytes) ?? rpcError(400, PARSE_ERROR, "Parse error: the message is not UTF-8");
}

function contextOf(c: GatewayCtx, server: GatewayContext["server"], session: GatewaySession): GatewayContext {
  return {
    env: c.env,
    background: (work) => c.executionCtx.waitUntil(work),
    identity: identityOf(c),
    server,
    session,
    location: locationOf(c.req.raw),
    colo: (c.req.raw.cf?.colo as string | undefined) ?? c.env.EDGE_LOCATION,
    requestUrl: c.req.url,
  };
}

/** The session the request names; a Response to send instead when it names none this agent has. */
async function sessionOf(c: GatewayCtx, server: string): Promise<GatewaySession | Response> {
  const id = c.req.header("mcp-session-id");
  if (id === undefined) return rpcError(400, INVALID_REQUEST, "Bad Request: an Mcp-Session-Id header is required (initialize first)");
  const identity = identityOf(c);
  const session = await openSession(c.env, id, { tenant: identity.tenant, agent: identity.agent, server });
  if (!session) return rpcError(404, INVALID_REQUEST, "Session not found");
  const version = c.req.header("mcp-protocol-version");
  if (version !== undefined && !PROTOCOL_VERSIONS.includes(version)) {
    return rpcError(400, INVALID_REQUEST, `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${PROTOCOL_VERSIONS.join(", ")})`);
  }
  return session;
}

/** A Tollgate session id the client may name for its MCP session (so native and MCP calls share budgets and taint). */
function tollgateSession(c: GatewayCtx, server: string): string {
  const named = c.req.header("tollgate-session");
  if (named !== undefined) {
    if (!/^[\x21-\x7e]{1,256}$/.test(named)) throw new ApiError(400, "invalid_input", "Tollgate-Session is 1 to 256 visible ASCII characters");
    return named;
  }
  return `mcp:${server}:${crypto.randomUUID()}`;
}

async function initialize(c: GatewayCtx, server: ResolvedServer, id: JsonRpcId, params: Record<string, unknown> | undefined, raw: Record<string, unknown>, name: string): Promise<Response> {
  const identity = identityOf(c);
  try {
    const exchange = await sendToUpstream({ server }, { method: "POST", body: JSON.stringify(raw), timeoutMs: timeoutOf({ server }) });
    const { reply } = await collectReply(name, exchange, id, false);
    if (reply.error !== undefined) return jsonResponse(reply);
    const result = reply.result as { protocolVersion?: unknown } | undefined;
    const protocol = result?.protocolVersion;
    if (typeof protocol !== "string" || !PROTOCOL_VERSIONS.includes(protocol)) {
      return jsonResponse(errorMessage(id, INTERNAL_ERROR, `upstream ${name} speaks MCP ${String(protocol)}; the gateway speaks ${PROTOCOL_VERSIONS.join(", ")}`), 502);
    }
    const upstreamSession = exchange.response.headers.get("mcp-session-id") ?? undefined;
    if (upstreamSession !== undefined && !/^[\x21-\x7e]{1,1024}$/.test(upstreamSession)) {
      return jsonResponse(errorMessage(id, INTERNAL_ERROR, `upstream ${name} gave a malformed session id`), 502);
    }
    const elicitation = (params?.capabilities as { elicitation?: { url?: unknown } } | undefined)?.elicitation;
    const session: GatewaySession = {
      tenant: identity.tenant,
      agent: identity.agent,
      server: name,
      ...(upstreamSession !== undefined ? { upstream: upstreamSession } : {}),
      protocol,
      url_elicitation: protocol === "2025-11-25" && typeof elicitation?.url === "object" && elicitation.url !== null,
      tollgate_session: tollgateSession(c, name),
      created_ms: Date.now(),
    };
    return jsonResponse(reply, 200, { "mcp-session-id": await sealSession(c.env, session) });
  } catch (error) {
    if (!(error instanceof UpstreamFault)) throw error;
    return jsonResponse(errorMessage(id, UPSTREAM_ERROR, error.message, { fault: error.fault }), error.fault === "timeout" ? 504 : 502);
  }
}

async function post(c: GatewayCtx): Promise<Response> {
  const name = serverName(c);
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") return rpcError(415, INVALID_REQUEST, "Unsupported Media Type: send application/json");
  const accept = c.req.header("accept") ?? "";
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
    return rpcError(406, INVALID_REQUEST, "Not Acceptable: the client must accept both application/json and text/event-stream");
  }
  const text = await readBody(c);
  if (text instanceof Response) return text;
  let message;
  try {
    message = parseMessage(text);
  } catch (error) {
    if (error instanceof JsonRpcFault) return rpcError(400, error.code, error.message, error.id);
    throw error;
  }
  const identity = identityOf(c);
  const server = await resolveServer(c.env, identity.tenant, name, Date.now(), (work) => c.executionCtx.waitUntil(work));
  if (message.kind === "request" && message.method === "initialize") {
    return initialize(c, server, message.id, message.params, message.raw, name);
  }
  const session = await sessionOf(c, name);
  if (session instanceof Response) return session;
  const context = contextOf(c, server, session);
  // What goes upstream is the message as the gateway read it, rebuilt from the fields MCP defines for it
  // (upstream-message.ts), never the bytes as sent: JSON with a key twice (`"method":"tools/call",…,"method":"ping"`)
  // reads as its last one here, and an upstream whose parser keeps the first would run a call the gateway took for a ping.
  try {
    if (message.kind === "request") {
      if (isGovernedMethod(message.method)) return await governedRequest(context, message.id, message.method, message.params);
      if (isListingMethod(message.method)) return await governedListing(context, message.id, message.method, message.params);
      if (!RELAYED_METHODS.has(message.method)) return jsonResponse(errorMessage(message.id, METHOD_NOT_FOUND, `Method not found: ${message.method.slice(0, 64)} is not a request the gateway passes on`));
      if (message.method.startsWith(TASK_PREFIX) && session.upstream === undefined) {
        return jsonResponse(errorMessage(message.id, METHOD_NOT_FOUND, `Method not found: upstream ${name} keeps no sessions, so it cannot tell one agent's tasks from another's; the gateway passes ${message.method} on only within an upstream session`));
      }
      const id = message.id;
      const relayed = relayedMessage(id, message.method, message.params);
      if (typeof relayed === "string") return jsonResponse(errorMessage(id, INVALID_PARAMS, relayed));
      const onFault = (fault: UpstreamFault) => errorMessage(id, UPSTREAM_ERROR, fault.message, { fault: fault.fault });
      try {
        const exchange = await sendToUpstream(targetOf(context), { method: "POST", body: JSON.stringify(relayed), timeoutMs: timeoutOf(context) });
        const eventId = eventIdsFor(c.env, session, id, { kind: "relay" });
        return await relay(targetOf(context), exchange, id, async (reply) => reply, onFault, { background: context.background, eventId });
      } catch (error) {
        if (!(error instanceof UpstreamFault) || error.fault === "session_gone") throw error;
        return jsonResponse(onFault(error));
      }
    }
    // A notification (cancellation, progress, initialized) or the client's answer to an upstream request.
    if (message.kind === "notification" && !message.method.startsWith(NOTIFICATION_PREFIX)) {
      return rpcError(400, INVALID_REQUEST, `a message with a method and no id is a notification, and MCP's are named notifications/…: ${message.method.slice(0, 64)} without an id is refused`);
    }
    const postUpstream = async (body: string) => {
      const exchange = await sendToUpstream(targetOf(context), { method: "POST", body, timeoutMs: timeoutOf(context) });
      exchange.abort();
      return exchange.response.status;
    };
    let outgoing: Record<string, unknown>;
    if (message.kind === "response") {
      const answer = await governedAnswer(context, message);
      if (!answer.allowed) {
        // The upstream hears that its request was refused; whether it does changes nothing for the client.
        if (answer.upstream) await postUpstream(JSON.stringify(answer.upstream)).catch(() => undefined);
        return answer.client;
      }
      outgoing = answer.message;
    } else {
      const notification = notificationMessage(message.method, message.params);
      if (typeof notification === "string") return rpcError(400, INVALID_REQUEST, notification);
      outgoing = notification;
    }
    const status = await postUpstream(JSON.stringify(outgoing));
    if (status === 404 && session.upstream !== undefined) return rpcError(404, INVALID_REQUEST, "Session not found");
    if (status < 200 || status > 299) return rpcError(502, UPSTREAM_ERROR, `upstream ${name} refused the message (HTTP ${status})`);
    return new Response(null, { status: 202 });
  } catch (error) {
    if (error instanceof UpstreamFault && error.fault === "session_gone") return rpcError(404, INVALID_REQUEST, "Session not found: the upstream ended it");
    if (error instanceof UpstreamFault) return rpcError(error.fault === "timeout" ? 504 : 502, UPSTREAM_ERROR, error.message);
    throw error;
  }
}

async function get(c: GatewayCtx): Promise<Response> {
  const name = serverName(c);
  if (!(c.req.header("accept") ?? "").includes("text/event-stream")) return rpcError(406, INVALID_REQUEST, "Not Acceptable: a GET stream must accept text/event-stream");
  const identity = identityOf(c);
  const server = await resolveServer(c.env, identity.tenant, name, Date.now(), (work) => c.executionCtx.waitUntil(work));
  const session = await sessionOf(c, name);
  if (session instanceof Response) return session;
  const context = contextOf(c, server, session);
  const lastEventId = c.req.header("last-event-id");
  if (lastEventId !== undefined) return resumeStream(context, lastEventId);
  // A client that declared URL-mode elicitation is told on this stream when an elicited approval is settled,
  // so it gets a stream even from an upstream that has none.
  const notices = session.url_elicitation;
  let upstream: Exchange | undefined;
  try {
    upstream = await sendToUpstream(targetOf(context), { method: "GET", timeoutMs: timeoutOf(context), keepOpen: true });
    const status = upstream.response.status;
    if (status === 405) {
      upstream.abort();
      upstream = undefined;
      if (!notices) return new Response(null, { status: 405, headers: { allow: "POST, DELETE" } });
    } else if (status === 404 && session.upstream !== undefined) {
      upstream.abort();
      return rpcError(404, INVALID_REQUEST, "Session not found: the upstream ended it");
    } else if (status === 409) {
      upstream.abort();
      return rpcError(409, INVALID_REQUEST, "Conflict: this session's stream is already open");
    } else if (!isEventStream(upstream.response)) {
      upstream.abort();
      return rpcError(502, UPSTREAM_ERROR, `upstream ${name} did not open an event stream (HTTP ${status})`);
    }
  } catch (error) {
    if (error instanceof UpstreamFault) return rpcError(error.fault === "timeout" ? 504 : 502, UPSTREAM_ERROR, error.message);
    throw error;
  }
  return clientStream(context, upstream, notices);
}

/**
 * The client's standalone stream: the upstream's, the gateway's notices, or
 * both. The first source to end, or the client leaving, ends it: the
 * upstream's stream is released at once (so a client that reconnects can
 * open it again), and the notices stop at their next look.
 */
function clientStream(context: GatewayContext, upstream: Exchange | undefined, notices: boolean): Response {
  const channel = new EventChannel();
  const sources: Promise<void>[] = [];
  if (upstream) sources.push(relayStream(targetOf(context), upstream, channel));
  if (notices) sources.push(announceSettledElicitations(context, channel));
  const quiet = (source: Promise<void>) =>
    source.catch((error: unknown) => {
      if (!(error instanceof ChannelClosed)) console.error(`mcp ${context.server.name}: elicitation notices stopped: ${(error as Error).message}`);
    });
  const ended = Promise.race([channel.done, ...sources.map(quiet)]).finally(() => {
    channel.close();
    upstream?.abort();
  });
  context.background(Promise.allSettled([ended, ...sources]));
  return channel.response;
}

async function remove(c: GatewayCtx): Promise<Response> {
  const name = serverName(c);
  const identity = identityOf(c);
  const server = await resolveServer(c.env, identity.tenant, name, Date.now(), (work) => c.executionCtx.waitUntil(work));
  const session = await sessionOf(c, name);
  if (session instanceof Response) return session;
  // With no upstream session there is nothing to end: the gateway's own session is its sealed id.
  if (session.upstream === undefined) return new Response(null, { status: 405, headers: { allow: "POST, GET" } });
  try {
    const exchange = await sendToUpstream(targetOf(contextOf(c, server, session)), { method: "DELETE", timeoutMs: timeoutOf(contextOf(c, server, session)) });
    exchange.abort();
    const status = exchange.response.status;
    return new Response(null, { status: status >= 200 && status < 300 ? 204 : status === 404 ? 404 : status === 405 ? 405 : 502 });
  } catch (error) {
    if (error instanceof UpstreamFault) return rpcError(error.fault === "timeout" ? 504 : 502, UPSTREAM_ERROR, error.message);
    throw error;
  }
}

export const gatewayRoute = new Hono<AgentEnv>()
  .use("/:server", gatewayAuth())
  .post("/:server", post)
  .get("/:server", get)
  .delete("/:server", remove)
  .all("/:server", () => new Response(null, { status: 405, headers: { allow: "POST, GET, DELETE" } }));

/**
 * @module upstream-call
 * Talking to an upstream MCP server over Streamable HTTP, with the
 * gateway's guarantees: the upstream's credentials go on every request and
 * the client's never do; redirects are not followed (a redirect could carry
 * the credentials elsewhere); every exchange has a deadline, so a slow or
 * silent upstream becomes a fault, never a hang; a reply is read as JSON or
 * as an SSE stream, bounded in size, and anything that is not a JSON-RPC
 * message for the request in flight is a fault with a clear message. The
 * gateway keeps serving whatever an upstream sends.
 */
import { createParser } from "eventsource-parser";
import { classify, type JsonRpcId } from "./jsonrpc";
import type { ResolvedServer } from "./server-cache";

/** The most an upstream may send in reply to one request. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

export type FaultKind = "unreachable" | "timeout" | "bad_response" | "session_gone" | "http_status";

export class UpstreamFault extends Error {
  constructor(
    readonly fault: FaultKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface UpstreamTarget {
  server: ResolvedServer;
  /** The upstream's Mcp-Session-Id, once it gave one. */
  session?: string;
  protocol?: string;
}

/** One exchange with an upstream: the request, and a deadline that bounds its whole reply. */
export interface Exchange {
  response: Response;
  /** Aborts the exchange (the deadline does it too). */
  abort: () => void;
  /** Ends an exchange whose reply was read to its end: only its deadline is left to clear. */
  settle: () => void;
  deadlineMs: number;
  timeoutMs: number;
}

/** Whether an upstream answered a GET with the event stream it asked for. */
export const isEventStream = (response: Response) => response.ok && (response.headers.get("content-type") ?? "").includes("text/event-stream");

export async function sendToUpstream(
  target: UpstreamTarget,
  init: {
    method: "POST" | "GET" | "DELETE";
    body?: string;
    lastEventId?: string;
    timeoutMs: number;
    /** The deadline of a reply this exchange continues (a resumed stream); by default `timeoutMs` from now. */
    deadlineMs?: number;
    /** A stream the client keeps open (GET): the deadline bounds only the wait for its headers. */
    keepOpen?: boolean;
  },
): Promise<Exchange> {
  const { server } = target;
  const headers = new Headers(server.headers);
  // Set after the credentials, so no stored header can replace what the protocol needs.
  headers.set("accept", init.method === "GET" ? "text/event-stream" : "application/json, text/event-stream");
  if (init.body !== undefined) headers.set("content-type", "application/json");
  if (target.session !== undefined) headers.set("mcp-session-id", target.session);
  if (target.protocol !== undefined) headers.set("mcp-protocol-version", target.protocol);
  if (init.lastEventId !== undefined) headers.set("last-event-id", init.lastEventId);
  const controller = new AbortController();
  const deadlineMs = init.deadlineMs ?? Date.now() + init.timeoutMs;
  const timer = setTimeout(() => controller.abort(new UpstreamFault("timeout", `upstream ${server.name} did not answer within ${init.timeoutMs} ms`)), Math.max(0, deadlineMs - Date.now()));
  let response: Response;
  try {
    response = await fetch(server.config.url, { method: init.method, headers, body: init.body, redirect: "manual", signal: controller.signal });
  } catch (error) {
    clearTimeout(timer);
    if (controller.signal.aborted) throw controller.signal.reason as UpstreamFault;
    throw new UpstreamFault("unreachable", `upstream ${server.name} could not be reached: ${(error as Error).message}`);
  }
  // Otherwise the timer keeps running while the body is read: the deadline bounds the whole reply.
  if (init.keepOpen) clearTimeout(timer);
  // Ends the exchange before its reply is read to the end: a plain abort, not a fault, so no error object is made.
  const abort = () => {
    clearTimeout(timer);
    controller.abort();
  };
  return { response, abort, settle: () => clearTimeout(timer), deadlineMs, timeoutMs: init.timeoutMs };
}

/**
 * One message of a reply: the JSON-RPC message (absent for an SSE event with
 * no data, such as a priming event) and its SSE fields; a `retry` field
 * arrives as an event of its own.
 */
export interface ReplyEvent {
  message?: Record<string, unknown>;
  data: string;
  id?: string;
  event?: string;
  retry?: number;
}

function statusFault(server: string, response: Response, hadSession: boolean): UpstreamFault {
  if (response.status === 404 && hadSession) return new UpstreamFault("session_gone", `upstream ${server} no longer knows this session`, 404);
  if (response.status >= 300 && response.status < 400) return new UpstreamFault("bad_response", `upstream ${server} answered with a redirect (HTTP ${response.status}), which the gateway does not follow`, response.status);
  return new UpstreamFault("http_status", `upstream ${server} answered HTTP ${response.status}`, response.status);
}

function asMessage(server: string, data: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new UpstreamFault("bad_response", `upstream ${server} sent something that is not JSON`);
  }
  try {
    return classify(value).raw;
  } catch (error) {
    throw new UpstreamFault("bad_response", `upstream ${server} sent an invalid JSON-RPC message (${(error as Error).message})`);
  }
}

/** Reads an upstream's reply, JSON or SSE, message by message, within its size bound and deadline. */
export async function* replyEvents(server: string, exchange: Exchange, hadSession: boolean): AsyncGenerator<ReplyEvent> {
  const { response } = exchange;
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw statusFault(server, response, hadSession);
  }
  const type = (response.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json" && type !== "text/event-stream") {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamFault("bad_response", `upstream ${server} answered with content type ${type || "none"}, not JSON or an event stream`);
  }
  const reader = response.body?.getReader();
  if (!reader) throw new UpstreamFault("bad_response", `upstream ${server} answered with an empty body`);
  const decoder = new TextDecoder();
  const queued: ReplyEvent[] = [];
  let problem: UpstreamFault | undefined;
  const parser = createParser({
    maxBufferSize: MAX_REPLY_BYTES,
    onEvent: (event) => {
      if (event.data === "") queued.push({ data: "", id: event.id, event: event.event });
      else queued.push({ data: event.data, id: event.id, event: event.event });
    },
    onRetry: (retry) => queued.push({ data: "", retry }),
    onError: (error) => {
      problem = new UpstreamFault("bad_response", `upstream ${server} sent a malformed event stream (${error.message})`);
    },
  });
  let received = 0;
  let text = "";
  let ended = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (error instanceof UpstreamFault) throw error;
        throw new UpstreamFault(Date.now() >= exchange.deadlineMs ? "timeout" : "bad_response", Date.now() >= exchange.deadlineMs ? `upstream ${server} did not answer within ${exchange.timeoutMs} ms` : `upstream ${server} broke off its reply (${(error as Error).message})`);
      }
      if (chunk.done) {
        ended = true;
        break;
      }
      received += chunk.value.byteLength;
      if (received > MAX_REPLY_BYTES) throw new UpstreamFault("bad_response", `upstream ${server} sent more than ${MAX_REPLY_BYTES} bytes for one request`);
      const decoded = decoder.decode(chunk.value, { stream: true });
      if (type === "application/json") {
        text += decoded;
        continue;
      }
      parser.feed(decoded);
      if (problem) throw problem;
      while (queued.length > 0) {
        const event = queued.shift()!;
        yield event.data === "" ? event : { ...event, message: asMessage(server, event.data) };
      }
    }
    if (type === "application/json") {
      text += decoder.decode();
      yield { data: text, message: asMessage(server, text) };
    }
  } finally {
    reader.releaseLock();
    // A reply read to its end needs no abort (which costs as much as a small read); one left early does.
    if (ended) exchange.settle();
    else exchange.abort();
  }
}

/** Whether a message is the response to request `id`. */
export function answers(message: Record<string, unknown> | undefined, id: JsonRpcId): boolean {
  return message !== undefined && message.id === id && (Object.hasOwn(message, "result") || Object.hasOwn(message, "error")) && message.method === undefined;
}

/** Reads a reply to its end and returns the response to `id` (and what came before it). */
export async function collectReply(server: string, exchange: Exchange, id: JsonRpcId, hadSession: boolean): Promise<{ reply: Record<string, unknown>; before: ReplyEvent[] }> {
  const before: ReplyEvent[] = [];
  for await (const event of replyEvents(server, exchange, hadSession)) {
    if (answers(event.message, id)) return { reply: event.message!, before };
    before.push(event);
  }
  throw new UpstreamFault("bad_response", `upstream ${server} ended its reply without answering request ${JSON.stringify(id)}`);
}

/**
 * @module upstream-relay
 * Passing an upstream's reply to the client: a JSON reply as JSON, an SSE
 * reply that is the answer alone as JSON too, and any other SSE reply as an
 * SSE stream, so progress notifications, log messages and the upstream's own
 * requests to the client (sampling, elicitation) reach it as they happen.
 * The response to the client's request goes through `finish` (where the
 * gateway records taint and adds its `_meta`) before it is sent;
 * a fault on the way (deadline, garbage, a reply that ends without an
 * answer) becomes `fault`'s answer, so the client always gets one.
 *
 * An upstream may close a response stream before it answers, having named
 * its events, and expect the client to resume it with `Last-Event-ID` (SSE
 * polling, MCP 2025-11-25). The gateway resumes it itself, within the
 * reply's deadline, and the client sees one stream. The events the client
 * gets carry ids of the gateway's own that wrap the upstream's
 * (event-id.ts), sealed: a client whose connection breaks resumes through
 * the gateway (a GET with `Last-Event-ID`, answered with `streamOnly`), and
 * the answer still passes through `finish`. The upstream's ids are never
 * passed on bare: a stream resumed straight from the upstream would skip it.
 *
 * A response to any other request on the stream is dropped: it would reach
 * the client without its own request's `finish` (a listing unfiltered).
 */
import type { JsonRpcId } from "./jsonrpc";
import { ChannelClosed, EventChannel } from "./event-channel";
import { answers, collectReply, replyEvents, sendToUpstream, UpstreamFault, type Exchange, type ReplyEvent, type UpstreamTarget } from "./upstream-call";

export type Finish = (reply: Record<string, unknown>) => Promise<Record<string, unknown>>;
export type OnFault = (fault: UpstreamFault) => Promise<Record<string, unknown>> | Record<string, unknown>;

export interface RelayOptions {
  background: (work: Promise<unknown>) => void;
  /**
   * The id the client sees for an event the upstream named (event-id.ts),
   * so it can resume the stream; without it, events carry no ids.
   */
  eventId?: (upstreamEventId: string) => Promise<string>;
  /** Answer with a stream even when the answer comes first: a GET that resumes a stream is answered with one. */
  streamOnly?: boolean;
}

export const jsonResponse = (message: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(message), { status, headers: { "content-type": "application/json", ...headers } });

function asFault(error: unknown, server: string): UpstreamFault {
  return error instanceof UpstreamFault ? error : new UpstreamFault("bad_response", `upstream ${server} could not be read: ${(error as Error).message}`);
}

/** Reads a reply to its end, ignoring what comes after the answer (an upstream sends nothing more for one request). */
async function drain(events: AsyncGenerator<ReplyEvent>): Promise<void> {
  try {
    for await (const _ of events);
  } catch {
    // The reply broke off after its answer: nothing is owed to anyone.
  }
}

/** The events of a reply whose first ones were already read. */
async function* prepend(head: ReplyEvent[], rest: AsyncGenerator<ReplyEvent>): AsyncGenerator<ReplyEvent> {
  yield* head;
  yield* rest;
}

/** How many times one reply is resumed: an upstream that closes every stream at once is not waited on forever. */
const MAX_RESUMPTIONS = 8;

/** The rest of a reply the upstream closed before answering: its events after `lastEventId`, on a GET within the same deadline. */
async function resumeReply(target: UpstreamTarget, first: Exchange, lastEventId: string, retryMs: number): Promise<Exchange> {
  const name = target.server.name;
  // The upstream asked for this pause (its `retry` field); a pause past the deadline is the deadline.
  if (Date.now() + retryMs >= first.deadlineMs) throw new UpstreamFault("timeout", `upstream ${name} did not answer within ${first.timeoutMs} ms`);
  if (retryMs > 0) await new Promise((resolve) => setTimeout(resolve, retryMs));
  return sendToUpstream(target, { method: "GET", lastEventId, timeoutMs: first.timeoutMs, deadlineMs: first.deadlineMs });
}

export async function relay(target: UpstreamTarget, exchange: Exchange, id: JsonRpcId, finish: Finish, fault: OnFault, options: RelayOptions): Promise<Response> {
  const { background, eventId, streamOnly = false } = options;
  const server = target.server.name;
  const hadSession = target.session !== undefined;
  const type = (exchange.response.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (!exchange.response.ok || type !== "text/event-stream") {
    try {
      const { reply } = await collectReply(server, exchange, id, hadSession);
      return jsonResponse(await finish(reply));
    } catch (error) {
      const problem = asFault(error, server);
      if (problem.fault === "session_gone") throw problem;
      return jsonResponse(await fault(problem));
    }
  }
  // Most replies are the answer alone (after, at most, an event that only names the stream for
  // resuming it): those go to the client as JSON (it accepts both), with no stream to keep open.
  // A reply whose first message is anything else is streamed.
  const events = replyEvents(server, exchange, hadSession);
  const leading: ReplyEvent[] = [];
  try {
    while (!streamOnly) {
      const next = await events.next();
      if (next.done) break;
      if (answers(next.value.message, id)) {
        // The rest of the reply (usually just its end) is read after the answer has gone, within the deadline.
        background(drain(events));
        return jsonResponse(await finish(next.value.message!));
      }
      leading.push(next.value);
      if (next.value.message) break;
    }
  } catch (error) {
    return jsonResponse(await fault(asFault(error, server)));
  }
  const channel = new EventChannel();
  const idOf = (event: ReplyEvent) => (event.id && eventId ? eventId(event.id) : undefined);
  let current = exchange;
  // A client that left releases the upstream's stream at once (the upstream lets a stream be open once), so it can resume it.
  background(channel.done.then(() => current.abort()));
  const pump = (async () => {
    let answered = false;
    try {
      let stream = prepend(leading, events);
      let lastEventId: string | undefined;
      let retryMs = 0;
      for (let resumed = 0; ; resumed++) {
        for await (const event of stream) {
          if (event.id) lastEventId = event.id;
          if (event.retry !== undefined) retryMs = event.retry;
          if (answers(event.message, id)) {
            await channel.send(await finish(event.message!), undefined, await idOf(event));
            answered = true;
            break;
          }
          if (event.message && typeof event.message.method === "string") await channel.send(event.message, event.event, await idOf(event));
          else if (event.id && eventId) await channel.mark(await eventId(event.id));
        }
        if (answered || lastEventId === undefined || resumed >= MAX_RESUMPTIONS) break;
        current = await resumeReply(target, exchange, lastEventId, retryMs);
        stream = replyEvents(server, current, hadSession);
      }
      if (!answered) await channel.send(await fault(new UpstreamFault("bad_response", `upstream ${server} ended its reply without answering request ${JSON.stringify(id)}`)));
    } catch (error) {
      // The client may have gone away; writing its answer then fails too, and nothing is left to tell.
      if (!(error instanceof ChannelClosed)) await channel.send(await fault(asFault(error, server))).catch(() => undefined);
    } finally {
      channel.close();
    }
  })();
  background(pump);
  return channel.response;
}

/**
 * An upstream's standalone stream (GET) into the client's: its requests and
 * notifications pass on; a response, which only a resumed stream may carry,
 * does not (see the module comment). Settles when the upstream's stream
 * ends, breaks, or the client's channel is closed.
 */
export async function relayStream(target: UpstreamTarget, exchange: Exchange, channel: EventChannel): Promise<void> {
  const hadSession = target.session !== undefined;
  try {
    for await (const event of replyEvents(target.server.name, exchange, hadSession)) {
      const message = event.message;
      if (message && typeof message.method === "string") await channel.send(message, event.event);
    }
  } catch {
    // The stream ended (the upstream closed it, or sent garbage, or the client left): the client reconnects if it wants to.
  }
}

/**
 * @module stream-resume
 * A GET with `Last-Event-ID`: the client resumes a stream the gateway
 * answered one of its requests with, after its connection broke. The id
 * opens to where the upstream's stream is to be resumed and what the
 * gateway does to the answer (event-id.ts); the upstream's stream is
 * resumed from there, and its events, the answer included, reach the client
 * as on the first stream: a governed request's answer names its decision
 * (its data classes were recorded before it went upstream), a listing is
 * filtered by the listing policy again. Only an id this session was given opens.
 */
import { errorMessage, INVALID_REQUEST, UPSTREAM_ERROR } from "./jsonrpc";
import { targetOf, timeoutOf, type GatewayContext } from "./gateway-context";
import { eventIdsFor, openEventId, type ResumePoint } from "./event-id";
import { resultFinish } from "./governed-request";
import { governedList } from "./governed-listing";
import { isEventStream, sendToUpstream, UpstreamFault } from "./upstream-call";
import { jsonResponse, relay, type Finish } from "./upstream-relay";

/** How often a resume the upstream refused while the broken stream was still open is asked again. */
const RETRY_MS = 250;

function finishFor(context: GatewayContext, point: ResumePoint): Finish {
  const { answer, request } = point;
  if (answer.kind === "call") {
    return resultFinish({ decision_id: answer.decision_id, decision: "allow", rules: [], reasons: [], resumed: true });
  }
  if (answer.kind === "list") return (reply) => governedList(context, reply, request, answer.method);
  return async (reply) => reply;
}

export async function resumeStream(context: GatewayContext, lastEventId: string): Promise<Response> {
  const point = await openEventId(context.env, context.session, lastEventId);
  if (!point) return jsonResponse(errorMessage(null, INVALID_REQUEST, "Bad Request: Last-Event-ID names no event of this session's streams"), 400);
  const onFault = (fault: UpstreamFault) => errorMessage(point.request, UPSTREAM_ERROR, fault.message, { fault: fault.fault });
  try {
    const timeoutMs = timeoutOf(context);
    const deadlineMs = Date.now() + timeoutMs;
    let exchange = await sendToUpstream(targetOf(context), { method: "GET", lastEventId: point.upstream, timeoutMs, deadlineMs });
    // The broken stream may not be released yet (the gateway learns that a client left when a write to it fails, within
    // a keep-alive interval): the upstream refuses to open it twice meanwhile, so ask again until the deadline.
    while (exchange.response.status === 409 && Date.now() + RETRY_MS < deadlineMs) {
      exchange.abort();
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      exchange = await sendToUpstream(targetOf(context), { method: "GET", lastEventId: point.upstream, timeoutMs, deadlineMs });
    }
    const status = exchange.response.status;
    if (status === 404 && context.session.upstream !== undefined) {
      exchange.abort();
      return jsonResponse(errorMessage(null, INVALID_REQUEST, "Session not found: the upstream ended it"), 404);
    }
    if (!isEventStream(exchange.response)) {
      exchange.abort();
      return jsonResponse(errorMessage(null, UPSTREAM_ERROR, `upstream ${context.server.name} could not resume the stream (HTTP ${status})`), 502);
    }
    const eventId = eventIdsFor(context.env, context.session, point.request, point.answer);
    // A listing's answer comes under the id it went upstream with (governed-listing.ts).
    const answering = point.answer.kind === "list" && point.answer.upstream_request !== undefined ? point.answer.upstream_request : point.request;
    return await relay(targetOf(context), exchange, answering, finishFor(context, point), onFault, { background: context.background, eventId, streamOnly: true });
  } catch (error) {
    if (error instanceof UpstreamFault) return jsonResponse(errorMessage(null, UPSTREAM_ERROR, error.message), error.fault === "timeout" ? 504 : 502);
    throw error;
  }
}

/**
 * @module governed-request
 * The requests the gateway decides before they reach the upstream:
 * `tools/call`, `resources/read`, `resources/subscribe` (as a read of what
 * it subscribes to), `prompts/get` and `completion/complete`
 * (registry-mapping.ts says what each is judged as). Each is decided by the same pipeline as
 * `POST /v1/decide`, with the same input shape (the Tollgate tool its
 * mapping names, the arguments, the session, the mapping's tier floor as
 * the declared tier), so the same budgets, breakers, approvals, audit
 * records and taint apply. Then:
 *
 * - allow: the classes of data the mapping says its answer carries (a
 *   subscription's carries none) are recorded in the session object, and
 *   with the agent (agent-taint.ts), then the request goes upstream with
 *   what was decided and nothing else (upstream-message.ts; a failure to
 *   record refuses it: otherwise the next decision would be looser);
 * - deny: for a tool call, a CallToolResult with `isError: true`, as MCP
 *   intends for a call that did not succeed and that the model should read
 *   and adapt to: what was refused and why in its text, the decision id and
 *   rule ids in `_meta`. The other requests have no such result: they get
 *   a JSON-RPC error (REFUSED_BY_POLICY) with the same text and decision;
 * - require approval: to a client that declared URL-mode elicitation
 *   (2025-11-25), the URLElicitationRequiredError (-32042) with a link to the
 *   approval in the console; to others, the refusal's form saying which
 *   approval to wait for and to ask again. Once approved, the same request
 *   with the same arguments goes through once (the session object uses the
 *   approval for exactly that action).
 *
 * Every answer carries the decision in `_meta["tollgate/decision"]` (a
 * result's) or `data["tollgate/decision"]` (an error's).
 */
import { runDecision, type DecisionResponse } from "../decision/pipeline";
import type { DecisionBody } from "../schema/decision-input";
import { recordAgentClasses } from "../session/agent-taint";
import { rememberClasses, withTimeout } from "../session/client";
import type { RecordedClasses } from "../session/types";
import { released } from "../rpc-result";
import { sessionKey, sessionObject } from "../session/objects";
import type { Reason } from "../types";
import { targetOf, timeoutOf, type GatewayContext } from "./gateway-context";
import { errorMessage, INVALID_PARAMS, REFUSED_BY_POLICY, resultMessage, URL_ELICITATION_REQUIRED, type JsonRpcId } from "./jsonrpc";
import { subjectOf, type GovernedMethod, type Subject } from "./registry-mapping";
import { sendToUpstream, UpstreamFault } from "./upstream-call";
import { eventIdsFor } from "./event-id";
import { governedMessage } from "./upstream-message";
import { jsonResponse, relay, type Finish } from "./upstream-relay";
import { isJsonObject } from "../own-members";

export const DECISION_META_KEY = "tollgate/decision";

export interface DecisionMeta {
  decision_id: string;
  decision: string;
  rules: string[];
  reasons: Reason[];
  receipt?: string;
  approval?: { id: string; status: string; expires_at: string; url: string };
  upstream?: { fault: string; message: string; fail_mode: string };
  /** The answer came on a stream the client resumed: the decision's full record (reasons, receipt) is the audit log's, under decision_id. */
  resumed?: true;
}

export function metaOf(response: DecisionResponse, approvalUrl?: string): DecisionMeta {
  const reasons = (response.reasons as Reason[] | undefined) ?? [];
  const approval = (response.session as { approval?: { id: string; status: string; expires_at: string } } | undefined)?.approval;
  return {
    decision_id: response.decision_id,
    decision: response.decision,
    rules: [...new Set(reasons.map((reason) => reason.rule))],
    reasons,
    ...(typeof response.receipt === "string" ? { receipt: response.receipt } : {}),
    ...(approval && approvalUrl ? { approval: { ...approval, url: approvalUrl } } : {}),
  };
}

/** The console's page for an approval, on this deployment's origin. */
export function approvalUrl(requestUrl: string, tenant: string, approvalId: string): string {
  return `${new URL(requestUrl).origin}/console/approvals/${encodeURIComponent(tenant)}/${encodeURIComponent(approvalId)}`;
}

/** What a finished answer needs to know of its request; a resumed stream's id carries it (event-id.ts). */
export type AnsweredSubject = Pick<Subject, "method" | "table" | "name">;

/** What the request was, in a sentence a model reads: "this call to read_ticket", "this read of crm://customers/7". */
function described(subject: AnsweredSubject): string {
  if (subject.method === "tools/call") return `this call to ${subject.name}`;
  if (subject.method === "prompts/get") return `this request for prompt ${subject.name}`;
  if (subject.method === "completion/complete") return `this completion for ${subject.name}`;
  if (subject.method === "resources/subscribe") return `this subscription to ${subject.name}`;
  return `this read of ${subject.name}`;
}

function explain(meta: DecisionMeta, subject: AnsweredSubject): string {
  const what = described(subject);
  const why = meta.reasons.map((reason) => `- ${reason.rule}: ${reason.message}`).join("\n");
  if (meta.decision === "deny") return `Tollgate refused ${what} (decision ${meta.decision_id}):\n${why}`;
  if (meta.approval) {
    return `${capitalized(what)} needs a person's approval first (decision ${meta.decision_id}):\n${why}\nApproval ${meta.approval.id} is ${meta.approval.status}; an approver decides at ${meta.approval.url}. Once it is approved, make the same ${subject.method === "tools/call" ? "call" : "request"} with the same arguments again: it will go through once.`;
  }
  return `${capitalized(what)} needs a person's approval, and none could be requested (decision ${meta.decision_id}):\n${why}`;
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** A refused tool call is a result the model reads; any other refused request, which has no error result, a JSON-RPC error. */
function refusal(id: JsonRpcId, method: GovernedMethod, text: string, meta: DecisionMeta): Record<string, unknown> {
  if (method === "tools/call") return resultMessage(id, { content: [{ type: "text", text }], isError: true, _meta: { [DECISION_META_KEY]: meta } });
  return errorMessage(id, REFUSED_BY_POLICY, text, { [DECISION_META_KEY]: meta });
}

function upstreamFailure(id: JsonRpcId, method: GovernedMethod, fault: UpstreamFault, meta: DecisionMeta, failMode: string): Record<string, unknown> {
  const text = `The request was allowed (decision ${meta.decision_id}) but the upstream server failed: ${fault.message}. Whether it took effect is unknown; it was not retried.`;
  return refusal(id, method, text, { ...meta, upstream: { fault: fault.fault, message: fault.message, fail_mode: failMode } });
}

export async function governedRequest(context: GatewayContext, id: JsonRpcId, method: GovernedMethod, params: Record<string, unknown> | undefined): Promise<Response> {
  const subject = subjectOf(context.server, method, params);
  if (typeof subject === "string") return jsonResponse(errorMessage(id, INVALID_PARAMS, subject));
  const named = subject.table === "tools" ? { tool: subject.name } : subject.table === "prompts" ? { prompt: subject.name } : { resource: subject.name };
  const mcp = { server: context.server.name, ...(method === "completion/complete" ? { completion: named } : named) };
  const body = {
    session: { id: context.session.tollgate_session },
    action: { type: "tool_call", tool: subject.policyTool, args: subject.args, mcp },
    ...(subject.mapping?.risk_floor ? { risk_tier: subject.mapping.risk_floor } : {}),
  } as DecisionBody;
  const decided = await runDecision(context.env, { waitUntil: context.background }, { body, identity: context.identity, location: context.location, colo: context.colo, approvalByAction: true });
  const approval = (decided.session as { approval?: { id: string } } | undefined)?.approval;
  const meta = metaOf(decided, approval ? approvalUrl(context.requestUrl, context.identity.tenant, approval.id) : undefined);

  if (decided.decision === "deny") return jsonResponse(refusal(id, method, explain(meta, subject), meta));
  if (decided.decision === "require_approval") {
    if (meta.approval && meta.approval.status === "pending" && context.session.url_elicitation) {
      return jsonResponse(
        errorMessage(id, URL_ELICITATION_REQUIRED, `${capitalized(described(subject))} needs a person's approval.`, {
          elicitations: [{ mode: "url", elicitationId: meta.approval.id, url: meta.approval.url, message: explain(meta, subject) }],
          [DECISION_META_KEY]: meta,
        }),
      );
    }
    return jsonResponse(refusal(id, method, explain(meta, subject), meta));
  }

  // Recorded before the request goes upstream, not when its answer comes back: an answer need not come back as
  // its own. An upstream routes answers by JSON-RPC id, and a client that reuses the id of a call in flight gets
  // that call's answer on another request's stream; an error result can quote the data; an answer resumed later
  // would be judged by the mapping as it is then. A call that fails has tainted the session all the same: stricter.
  // A subscription's answer carries nothing; its updates name a URI, and reading that is decided and recorded.
  const classes = method === "resources/subscribe" ? [] : (subject.mapping?.data_classes ?? []);
  if (classes.length > 0) {
    const recorded = await recordClasses(context, classes, decided.decision_id);
    if (!recorded.ok) {
      const text = `${capitalized(described(subject))} was not made: its answer carries ${classes.join(", ")} data, and the session could not record that (${recorded.why}).`;
      return jsonResponse(refusal(id, method, text, meta));
    }
  }

  const failMode = typeof decided.fail_mode === "string" ? decided.fail_mode : "closed";
  try {
    // What was decided, and nothing the policy did not see (upstream-message.ts).
    const exchange = await sendToUpstream(targetOf(context), { method: "POST", body: JSON.stringify(governedMessage(id, method, params)), timeoutMs: timeoutOf(context) });
    return await relay(targetOf(context), exchange, id, resultFinish(meta), (fault) => upstreamFailure(id, method, fault, meta, failMode), {
      background: context.background,
      eventId: eventIdsFor(context.env, context.session, id, { kind: "call", method, table: subject.table, name: subject.name, decision_id: decided.decision_id }),
    });
  } catch (error) {
    if (!(error instanceof UpstreamFault) || error.fault === "session_gone") throw error;
    return jsonResponse(upstreamFailure(id, method, error, meta, failMode));
  }
}

/**
 * What the gateway does to an allowed request's answer before the client
 * sees it: `_meta` names the decision. (Its data classes were recorded
 * before the request went upstream.)
 */
export function resultFinish(meta: DecisionMeta): Finish {
  return async (reply) => {
    const resultObject = reply.result;
    if (!isJsonObject(resultObject)) return reply;
    const upstreamMeta = typeof resultObject._meta === "object" && resultObject._meta !== null ? (resultObject._meta as Record<string, unknown>) : {};
    return { ...reply, result: { ...resultObject, _meta: { ...upstreamMeta, [DECISION_META_KEY]: meta } } };
  };
}

/** The session object's record of the classes, before the request leaves; this isolate's copy follows it. */
async function recordClasses(context: GatewayContext, classes: string[], decisionId: string): Promise<{ ok: true } | { ok: false; why: string }> {
  const { tenant, agent } = context.identity;
  const sessionId = context.session.tollgate_session;
  try {
    const outcome = released(await withTimeout<RecordedClasses>(sessionObject(context.env, tenant, agent, sessionId).recordDataClasses(classes, decisionId), RECORD_TIMEOUT_MS));
    if ("refused" in outcome) return { ok: false, why: outcome.refused };
    rememberClasses(sessionKey(tenant, agent, sessionId), outcome.data_classes);
    // And with the agent, so that another of its sessions (another MCP server's, say) cannot carry the data out.
    await recordAgentClasses(context.env, context.identity, classes, Date.now(), RECORD_TIMEOUT_MS);
    return { ok: true };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  }
}

/** How long a request waits for the session to record its answer's data classes before it is refused. */
const RECORD_TIMEOUT_MS = 2_000;

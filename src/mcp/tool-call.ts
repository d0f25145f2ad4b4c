/**
 * @module tool-call
 * `tools/call` through the gateway: decided by the same pipeline as
 * `POST /v1/decide`, with the same input shape (the tool by its Tollgate
 * name, the arguments, the session, the tool's tier floor as the declared
 * tier), so the same budgets, breakers, approvals, audit records and taint
 * apply. Then:
 *
 * - allow: the call goes upstream as the client sent it; when its result
 *   comes back, the classes of data the tool's results carry are recorded in
 *   the session object before the client sees the result (a failure to
 *   record withholds it: otherwise the next decision would be looser);
 * - deny: a CallToolResult with `isError: true`, as MCP intends for a call
 *   that did not succeed and that the model should read and adapt to: what
 *   was refused and why in its text, the decision id and rule ids in `_meta`;
 * - require approval: to a client that declared URL-mode elicitation
 *   (2025-11-25), the URLElicitationRequiredError (-32042) with a link to the
 *   approval in the console; to others, a CallToolResult saying which
 *   approval to wait for and to call again. Once approved, the same call
 *   with the same arguments goes through once (the session object uses the
 *   approval for exactly that action).
 *
 * Every answer carries the decision in `_meta["tollgate/decision"]`.
 */
import { runDecision, type DecisionResponse } from "../decision/pipeline";
import type { DecisionBody } from "../schema/decision-input";
import { DECISION_LIMITS, findLimitViolation } from "../schema/json-limits";
import { sessionObject } from "../session/objects";
import { rememberClasses } from "../session/client";
import { sessionKey } from "../session/objects";
import type { Reason } from "../types";
import { targetOf, timeoutOf, type GatewayContext } from "./gateway-context";
import { errorMessage, INVALID_PARAMS, resultMessage, URL_ELICITATION_REQUIRED, type JsonRpcId } from "./jsonrpc";
import { sendToUpstream, UpstreamFault } from "./upstream-call";
import { eventIdsFor } from "./event-id";
import { jsonResponse, relay, type Finish } from "./upstream-relay";
import type { ToolMapping } from "./upstream-schema";

export const DECISION_META_KEY = "tollgate/decision";

/** How an unmapped upstream tool is named to the policy: no policy knows it, so it is refused (unknown_tool) and on the record. */
export const unmappedToolName = (server: string, tool: string) => `mcp:${server}/${tool}`;

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

function metaOf(response: DecisionResponse, approvalUrl?: string): DecisionMeta {
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

function explain(meta: DecisionMeta, tool: string): string {
  const why = meta.reasons.map((reason) => `- ${reason.rule}: ${reason.message}`).join("\n");
  if (meta.decision === "deny") return `Tollgate refused this call to ${tool} (decision ${meta.decision_id}):\n${why}`;
  if (meta.approval) {
    return `This call to ${tool} needs a person's approval first (decision ${meta.decision_id}):\n${why}\nApproval ${meta.approval.id} is ${meta.approval.status}; an approver decides at ${meta.approval.url}. Once it is approved, make the same call with the same arguments again: it will go through once.`;
  }
  return `This call to ${tool} needs a person's approval, and none could be requested (decision ${meta.decision_id}):\n${why}`;
}

const refusal = (id: JsonRpcId, text: string, meta: DecisionMeta) =>
  resultMessage(id, { content: [{ type: "text", text }], isError: true, _meta: { [DECISION_META_KEY]: meta } });

function upstreamFailure(id: JsonRpcId, fault: UpstreamFault, meta: DecisionMeta, failMode: string): Record<string, unknown> {
  const text = `The call was allowed (decision ${meta.decision_id}) but the tool's server failed: ${fault.message}. Whether the call took effect is unknown; it was not retried.`;
  return refusal(id, text, { ...meta, upstream: { fault: fault.fault, message: fault.message, fail_mode: failMode } });
}

export async function governedToolCall(context: GatewayContext, id: JsonRpcId, params: Record<string, unknown> | undefined, raw: Record<string, unknown>): Promise<Response> {
  const name = params?.name;
  if (typeof name !== "string" || name.length === 0 || name.length > 128) return jsonResponse(errorMessage(id, INVALID_PARAMS, "tools/call names its tool in params.name (1 to 128 characters)"));
  const args = params?.arguments ?? {};
  if (typeof args !== "object" || args === null || Array.isArray(args)) return jsonResponse(errorMessage(id, INVALID_PARAMS, "params.arguments must be an object"));
  const violation = findLimitViolation(args, DECISION_LIMITS);
  if (violation) return jsonResponse(errorMessage(id, INVALID_PARAMS, `arguments${violation.path ? `.${violation.path}` : ""}: ${violation.message}`));

  const tools = context.server.config.tools;
  const mapping: ToolMapping | undefined = Object.hasOwn(tools, name) ? tools[name] : undefined;
  const body = {
    session: { id: context.session.tollgate_session },
    action: { type: "tool_call", tool: mapping?.tool ?? unmappedToolName(context.server.name, name), args, mcp: { server: context.server.name, tool: name } },
    ...(mapping?.risk_floor ? { risk_tier: mapping.risk_floor } : {}),
  } as DecisionBody;
  const decided = await runDecision(context.env, { waitUntil: context.background }, { body, identity: context.identity, location: context.location, colo: context.colo, approvalByAction: true });
  const approval = (decided.session as { approval?: { id: string } } | undefined)?.approval;
  const meta = metaOf(decided, approval ? approvalUrl(context.requestUrl, context.identity.tenant, approval.id) : undefined);

  if (decided.decision === "deny") return jsonResponse(refusal(id, explain(meta, name), meta));
  if (decided.decision === "require_approval") {
    if (meta.approval && meta.approval.status === "pending" && context.session.url_elicitation) {
      return jsonResponse(
        errorMessage(id, URL_ELICITATION_REQUIRED, `This call to ${name} needs a person's approval.`, {
          elicitations: [{ mode: "url", elicitationId: meta.approval.id, url: meta.approval.url, message: explain(meta, name) }],
          [DECISION_META_KEY]: meta,
        }),
      );
    }
    return jsonResponse(refusal(id, explain(meta, name), meta));
  }

  const failMode = typeof decided.fail_mode === "string" ? decided.fail_mode : "closed";
  try {
    const exchange = await sendToUpstream(targetOf(context), { method: "POST", body: JSON.stringify(raw), timeoutMs: timeoutOf(context) });
    return await relay(targetOf(context), exchange, id, toolResultFinish(context, id, name, meta), (fault) => upstreamFailure(id, fault, meta, failMode), {
      background: context.background,
      eventId: eventIdsFor(context.env, context.session, id, { kind: "call", tool: name, decision_id: decided.decision_id }),
    });
  } catch (error) {
    if (!(error instanceof UpstreamFault) || error.fault === "session_gone") throw error;
    return jsonResponse(upstreamFailure(id, error, meta, failMode));
  }
}

/**
 * What the gateway does to an allowed call's result before the client sees
 * it: the session records the classes of data the tool's results carry (a
 * result it cannot record is withheld), and `_meta` names the decision.
 */
export function toolResultFinish(context: GatewayContext, id: JsonRpcId, name: string, meta: DecisionMeta): Finish {
  const tools = context.server.config.tools;
  const classes = (Object.hasOwn(tools, name) ? tools[name].data_classes : undefined) ?? [];
  return async (reply) => {
    const result = reply.result;
    if (typeof result !== "object" || result === null || Array.isArray(result)) return reply;
    const resultObject = result as Record<string, unknown>;
    if (classes.length > 0 && resultObject.isError !== true) {
      const recorded = await recordClasses(context, classes, meta.decision_id);
      if (!recorded.ok) {
        const text = `The call to ${name} was made, but its result is withheld: it carries ${classes.join(", ")} data and the session could not record that (${recorded.why}).`;
        return refusal(id, text, meta);
      }
    }
    const upstreamMeta = typeof resultObject._meta === "object" && resultObject._meta !== null ? (resultObject._meta as Record<string, unknown>) : {};
    return { ...reply, result: { ...resultObject, _meta: { ...upstreamMeta, [DECISION_META_KEY]: meta } } };
  };
}

/** The session object's record of the classes, before the result leaves; this isolate's copy follows it. */
async function recordClasses(context: GatewayContext, classes: string[], decisionId: string): Promise<{ ok: true } | { ok: false; why: string }> {
  const { tenant, agent } = context.identity;
  const sessionId = context.session.tollgate_session;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${RECORD_TIMEOUT_MS} ms`)), RECORD_TIMEOUT_MS)));
  try {
    const outcome = await Promise.race([sessionObject(context.env, tenant, agent, sessionId).recordDataClasses(classes, decisionId), deadline]);
    if ("refused" in outcome) return { ok: false, why: outcome.refused };
    rememberClasses(sessionKey(tenant, agent, sessionId), outcome.data_classes);
    return { ok: true };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** How long a result waits for the session to record its data classes before it is withheld. */
const RECORD_TIMEOUT_MS = 2_000;

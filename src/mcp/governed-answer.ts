/**
 * @module governed-answer
 * The client's answers to the upstream's own requests: a sampling result, an
 * elicitation's reply, a list of roots. Each takes data to the upstream as
 * surely as a call's arguments do, so an agent that may not send what it has
 * read to a server through a tool must not send it as an answer either.
 * Each is decided before it leaves, by the same pipeline as a call: as a
 * `tool_call` of the tool the registration maps answers to (registry-
 * mapping.ts; unmapped, a tool no policy knows, so refused), the answer as
 * its arguments, with the same budgets, breakers, taint and audit record.
 *
 * Refused (denied, or needing an approval, which an upstream waiting for its
 * answer cannot wait for), the answer never leaves: the upstream gets a
 * JSON-RPC error for its request instead, so that it stops waiting, and
 * learns neither the answer nor the reasons; the client gets 403 with the
 * decision. Once an approval for exactly that answer is granted, the same
 * answer goes through once, whichever request it answers then.
 */
import { runDecision } from "../decision/pipeline";
import type { DecisionBody } from "../schema/decision-input";
import type { GatewayContext } from "./gateway-context";
import { approvalUrl, DECISION_META_KEY, metaOf, type DecisionMeta } from "./governed-request";
import { errorMessage, INVALID_PARAMS, REFUSED_BY_POLICY, type JsonRpcMessage } from "./jsonrpc";
import { answerSubjectOf } from "./registry-mapping";
import { answerMessage } from "./upstream-message";
import { jsonResponse } from "./upstream-relay";

type Answer = Extract<JsonRpcMessage, { kind: "response" }>;

export type AnswerOutcome =
  /** `message`: the answer as it goes upstream, its id and what was decided, nothing else. */
  | { allowed: true; message: Record<string, unknown> }
  /** `upstream`: what goes to the upstream in the answer's place (nothing when the answer names no request). */
  | { allowed: false; upstream?: Record<string, unknown>; client: Response };

function explain(meta: DecisionMeta, server: string, told: boolean): string {
  const why = meta.reasons.map((reason) => `- ${reason.rule}: ${reason.message}`).join("\n");
  const what = `this answer to a request of ${server}`;
  const sent = `it was not sent${told ? `, and ${server} was told it was refused` : ""}`;
  if (meta.decision === "deny") return `Tollgate refused ${what} (decision ${meta.decision_id}); ${sent}:\n${why}`;
  const approval = meta.approval ? `\nApproval ${meta.approval.id} is ${meta.approval.status}; an approver decides at ${meta.approval.url}. Once it is approved, the same answer goes through once.` : "";
  return `Tollgate holds ${what} for a person's approval (decision ${meta.decision_id}); ${sent}:\n${why}${approval}`;
}

export async function governedAnswer(context: GatewayContext, answer: Answer): Promise<AnswerOutcome> {
  const subject = answerSubjectOf(context.server, answer);
  if (typeof subject === "string") {
    return { allowed: false, upstream: refusedUpstream(answer), client: jsonResponse(errorMessage(null, INVALID_PARAMS, subject), 400) };
  }
  const body = {
    session: { id: context.session.tollgate_session },
    // Judged by what it says, not by which request it answers: an approval covers the same answer to a request asked again.
    action: { type: "tool_call", tool: subject.policyTool, args: subject.args, mcp: { server: context.server.name, answer: true } },
    ...(subject.risk_floor ? { risk_tier: subject.risk_floor } : {}),
  } as DecisionBody;
  const decided = await runDecision(context.env, { waitUntil: context.background }, { body, identity: context.identity, location: context.location, colo: context.colo, approvalByAction: true });
  if (decided.decision === "allow") return { allowed: true, message: answerMessage(answer.id, subject.args) };
  const approval = (decided.session as { approval?: { id: string } } | undefined)?.approval;
  const meta = metaOf(decided, approval ? approvalUrl(context.requestUrl, context.identity.tenant, approval.id) : undefined);
  const upstream = refusedUpstream(answer, meta.decision_id);
  return {
    allowed: false,
    upstream,
    client: jsonResponse(errorMessage(null, REFUSED_BY_POLICY, explain(meta, context.server.name, upstream !== undefined), { [DECISION_META_KEY]: meta }), 403),
  };
}

/** The error the upstream gets for its request in place of an answer that may not reach it: nothing of the answer, nothing of why. */
function refusedUpstream(answer: Answer, decisionId?: string): Record<string, unknown> | undefined {
  if (answer.id === null) return undefined;
  const decision = decisionId ? ` (decision ${decisionId})` : "";
  return errorMessage(answer.id, REFUSED_BY_POLICY, `the client's answer was refused by its gateway's policy${decision}`);
}

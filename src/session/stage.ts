/**
 * @module stage
 * The session step of a decision: after the policy has answered, one call to
 * the session's Durable Object checks and commits what the session's history
 * says (budget, breaker, approvals, delegation), and the answer is merged
 * into the decision. When the object cannot answer in time, the risk tier's
 * fail mode applies: critical and high are denied, medium and low keep the
 * policy's answer, unmetered, and say so.
 */
import { canonicalJson, sha256Hex } from "../bundles/canonical";
import type { ComposedDecision } from "../engine/compose";
import type { FallbackParams } from "../engine/fallback-params";
import { ApiError } from "../errors";
import { subAgentId } from "../identity/registration";
import type { DecisionInput } from "../schema/decision-input";
import type { Reason } from "../types";
import { loggableArgs } from "../audit/record";
import { wantsSyncAudit } from "../audit/writer";
import { commitToSession, knowsClasses, rememberClasses, rememberUsage, revertInSession, type SessionOutcome } from "./client";
import { sessionKey } from "./objects";
import type { SessionDO } from "./session-do";
import type { AgentLimit, BreakerParams, CommitRequest, CommitResult, Usage } from "./types";

export interface SessionReport {
  status: "ok" | "unavailable";
  usage?: Usage;
  breaker?: CommitResult["breaker"];
  approval?: CommitResult["approval"];
  /** The request repeated a decision id or idempotency key: the stored answer, nothing committed twice. */
  replayed?: boolean;
  /** On a replay, the decision that was committed, and when: a replay's receipt is that decision's. */
  replay_of?: string;
  replay_of_at?: string;
  /** When the session's history changed the policy's verdict. */
  changed?: { from: string; to: string };
  /** Reasons the session's state added to the policy's (budget, breaker, approvals, delegation). */
  reasons?: Reason[];
  fault?: string;
  retried?: boolean;
  fail_mode_applied?: "open" | "closed";
}

function mergeReasons(a: Reason[], b: Reason[]): Reason[] {
  const byKey = new Map([...a, ...b].map((r) => [JSON.stringify(r), r]));
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

export interface CommitOptions {
  idempotencyKey?: string;
  observe?: boolean;
  /** The MCP gateway: an approved approval for exactly this action is used without being named. */
  approvalByAction?: boolean;
  /** Whether the action uses a tool that reaches outside (fallback-params.ts); asked only when the session's object cannot be reached. */
  reachesOutside?: () => boolean;
}

/** The session data classes the policy saw (policy-input.ts puts them in place). */
function classesSeen(input: DecisionInput): string[] {
  const classes = (input.session as { data_classes?: unknown }).data_classes;
  return Array.isArray(classes) ? classes.filter((c): c is string => typeof c === "string") : [];
}

/** The most of an action an approval keeps for its approvers (a tool name is kept whole even past it). */
const SUMMARY_CHARS = 1000;

/**
 * The action as approvers are shown it, as JSON. Cut at a fixed length, the
 * JSON would no longer parse and the console would show neither the tool nor
 * that anything was cut: an agent could hide what it asks approval for behind
 * long arguments. So the type and tool stay whole (the schema bounds a tool
 * name), and arguments and steps that do not fit are shown as the start of
 * their text, saying where it was cut.
 */
function approverSummary(shown: { type: string; tool?: string; args?: unknown; steps?: string[] }): string {
  const whole = canonicalJson(shown);
  if (whole.length <= SUMMARY_CHARS) return whole;
  const rest = canonicalJson({ args: shown.args, steps: shown.steps });
  const cutAt = (room: number) => canonicalJson({ type: shown.type, tool: shown.tool, args: `${rest.slice(0, Math.max(0, room))}… (cut here: ${rest.length} characters in all)` });
  let room = SUMMARY_CHARS - canonicalJson({ type: shown.type, tool: shown.tool }).length - 100;
  let summary = cutAt(room);
  // Escaping lengthens the text kept (a quote is two characters in JSON): take off what it overran by until it fits.
  while (summary.length > SUMMARY_CHARS && room > 0) {
    room -= summary.length - SUMMARY_CHARS;
    summary = cutAt(room);
  }
  return summary;
}

export async function buildCommit(input: DecisionInput, decision: ComposedDecision, fallback: FallbackParams, decisionId: string, nowMs: number, idempotencyKey?: string): Promise<CommitRequest> {
  const action = input.action as DecisionInput["action"] & { tool?: string; args?: unknown };
  // Approvers see the arguments exactly as far as the audit log may keep them: logged fields, hashes, or none.
  // Only a decision that asks for approval can create one, so only it carries what approvers are shown.
  const shown = decision.decision === "require_approval" ? await loggableArgs(action.args, decision.obligations) : undefined;
  // A plan's approver sees each step's tool, in order (their arguments are judged by the policy's rules).
  const summary = shown && approverSummary({ type: action.type, tool: action.tool, args: shown.redacted ? "[redacted by policy]" : shown.args, steps: action.steps?.map((step) => step.tool) });
  // A decision no policy answered (a fail mode) names no cost: the action's own estimate is debited, as the
  // global policy would (the schema has checked both figures are non-negative), so an allow that fails open
  // is metered too, and refused once it does not fit.
  const cost = decision.cost ?? { tokens: action.estimate?.tokens, api_calls: 1, cost_usd: action.estimate?.cost_usd };
  const debit = { tokens: cost.tokens ?? 0, api_calls: cost.api_calls ?? 1, cost_usd: cost.cost_usd ?? 0 };
  return {
    decision_id: decisionId,
    ...(idempotencyKey === undefined ? {} : { idempotency_key: idempotencyKey }),
    now_ms: nowMs,
    tenant: input.tenant,
    session_id: input.session.id,
    agent_id: input.agent.id,
    action_hash: await sha256Hex(canonicalJson({ tenant: input.tenant, agent: input.agent.id, session: input.session.id, action: input.action })),
    ...(summary === undefined ? {} : { action_summary: summary }),
    verdict: decision.decision,
    cost: debit,
    // The policy names what the session enforces; where it could not, the layers' data does.
    limits: ((decision.budget as { limits?: Partial<Usage> } | undefined)?.limits ?? fallback.budget.limits) as Partial<Usage>,
    breaker: (decision.breaker as BreakerParams | undefined) ?? fallback.breaker,
    agent_limit: decision.agent_limit === undefined ? fallback.agent_limit : (decision.agent_limit as AgentLimit | null),
    approval_ttl_s: (decision.approval_ttl_s as number | undefined) ?? fallback.approval_ttl_s,
    approval_id: input.approval_id,
    ...(shown
      ? {
          approval_context: {
            decision_id: decisionId,
            // A message may quote the arguments; where the policy redacts them, only the rule ids travel.
            reasons: decision.reasons.map((r) => ({ rule: r.rule, message: shown.redacted ? null : r.message })),
            risk_tier: input.risk_tier,
            cost: debit,
          },
        }
      : {}),
    delegation: {
      root_agent_id: input.identity.delegation.root_agent,
      parent_agent_id: input.identity.delegation.parent_agent,
      parent_session_id: input.session.parent_session_id,
      scopes: input.agent.scopes ?? [],
      depth: input.agent.delegation_depth ?? 0,
    },
    spawn: input.action.type === "spawn_agent" && input.action.spawn ? { agent_id: subAgentId(input.agent.id, input.action.spawn.agent_id), scopes: input.action.spawn.scopes ?? [] } : undefined,
    policy_denial_counts: !isInfrastructureDenial(decision),
    revertible: wantsSyncAudit(decision.obligations),
    data_classes_seen: classesSeen(input),
  };
}

/**
 * Rules only the edge sets, when the infrastructure and not the agent is
 * why an action is refused (no policy could answer, or the answer could not
 * be carried out). Such denials never count toward a breaker: an outage must
 * not lock every session it touched.
 */
const INFRASTRUCTURE_RULES = new Set(["policy_unavailable", "policy_stale", "policy_expired", "delegation_unavailable"]);

export function isInfrastructureDenial(decision: ComposedDecision): boolean {
  return decision.decision === "deny" && decision.reasons.length > 0 && decision.reasons.every((reason) => INFRASTRUCTURE_RULES.has(reason.rule));
}

/**
 * The policy's answer with what the session's object said, or, when it could
 * not be reached, the tier's fail mode. Even where that is open, an action
 * that reaches outside is refused when this isolate has never heard which
 * data classes the session holds: its taint would decide, and keeping the
 * session's object busy must not be a way around it. Nor around an
 * agent-wide limit (`agentLimited`): only the session's object counts the
 * action against it, and asks whether the agent's breaker is open.
 */
export function mergeSession(
  decision: ComposedDecision,
  outcome: SessionOutcome,
  fallback: FallbackParams,
  taint: { known: boolean; reachesOutside: boolean } = { known: true, reachesOutside: false },
  agentLimited = false,
): { decision: ComposedDecision; session: SessionReport } {
  if (outcome.status === "ok") {
    const { result } = outcome;
    if (result.conflict) throw new ApiError(409, "idempotency_conflict", result.conflict.message);
    const merged = { ...decision, decision: result.verdict, reasons: mergeReasons(decision.reasons, result.reasons) };
    const session: SessionReport = { status: "ok", usage: result.usage, breaker: result.breaker, retried: outcome.retried || undefined };
    if (result.approval) session.approval = result.approval;
    if (result.replayed) session.replayed = true;
    if (result.replayed && result.decision_id !== undefined) session.replay_of = result.decision_id;
    if (result.replayed && typeof result.decided_at_ms === "number") session.replay_of_at = new Date(result.decided_at_ms).toISOString();
    if (result.reasons.length > 0) session.reasons = result.reasons;
    if (result.verdict !== decision.decision) session.changed = { from: decision.decision, to: result.verdict };
    return { decision: merged, session };
  }
  // The policy names the tier's fail mode (data, so a layer may make it stricter); the layers' data covers a policy that could not answer.
  const failMode = decision.fail_mode === "open" || decision.fail_mode === "closed" ? decision.fail_mode : fallback.fail_mode;
  const tier = fallback.tier;
  const session: SessionReport = { status: "unavailable", fault: outcome.fault, retried: outcome.retried, fail_mode_applied: failMode };
  const taintUnknown = taint.reachesOutside && !taint.known;
  if (failMode === "open" && !taintUnknown && !agentLimited) return { decision, session };
  const reason =
    failMode !== "open"
      ? { rule: "session_state_unavailable", message: `session state unavailable (${outcome.fault}: ${outcome.message}); ${tier} risk fails closed` }
      : taintUnknown
        ? { rule: "session_taint_unknown", message: `session state unavailable (${outcome.fault}: ${outcome.message}) and this edge has not seen which data classes the session holds; an action that reaches outside is refused` }
        : { rule: "agent_limit_uncounted", message: `session state unavailable (${outcome.fault}: ${outcome.message}); this action counts against an agent-wide limit, which only the session's state can count, so it is refused` };
  session.reasons = [reason];
  session.changed = decision.decision === "deny" ? undefined : { from: decision.decision, to: "deny" };
  return { decision: { ...decision, decision: "deny", reasons: mergeReasons(decision.reasons, [reason]) }, session };
}

export async function applySessionState(
  namespace: DurableObjectNamespace<SessionDO>,
  timeoutMs: number,
  input: DecisionInput,
  decision: ComposedDecision,
  fallback: FallbackParams,
  decisionId: string,
  nowMs: number,
  options: CommitOptions = {},
): Promise<{ decision: ComposedDecision; session: SessionReport; undo: () => Promise<void> } | { staleClasses: string[] }> {
  const request: CommitRequest = {
    ...(await buildCommit(input, decision, fallback, decisionId, nowMs, options.idempotencyKey)),
    ...(options.observe ? { observe: true } : {}),
    ...(options.approvalByAction ? { approval_by_action: true } : {}),
  };
  const outcome = await commitToSession(namespace, request, timeoutMs);
  const key = sessionKey(input.tenant, input.agent.id, input.session.id);
  if (outcome.status === "ok") {
    rememberUsage(key, outcome.result.usage);
    if (Array.isArray(outcome.result.data_classes)) rememberClasses(key, outcome.result.data_classes);
    if (outcome.result.stale_classes) return { staleClasses: outcome.result.stale_classes };
  }
  const undo = async () => {
    if (outcome.status !== "ok" || outcome.result.replayed) return;
    await revertInSession(namespace, request);
  };
  const taint = outcome.status === "ok" ? undefined : { known: knowsClasses(key), reachesOutside: options.reachesOutside?.() === true };
  return { ...mergeSession(decision, outcome, fallback, taint, request.agent_limit !== null), undo };
}

/**
 * @module decision-context
 * A Tollgate decision as an AuthZEN Decision (§5.5): `decision` is true only
 * for `allow`; `deny` and `require_approval` are false, because §5.5 says a
 * false decision MUST NOT go forward and an action waiting for a human must
 * not. The context (§5.5.1, whose contents the spec leaves to the PDP)
 * says what Tollgate decided and why: the decision id, the outcome, the
 * rules that fired, the obligations the enforcement point must carry out,
 * the decision's signed receipt (which anyone can verify offline with the
 * keys at /.well-known/jwks.json), and, for an approval, how to wait for it
 * and what to send again. Members without a value are left out (§11.5).
 */
import type { DecisionResponse } from "../decision/pipeline";

export interface AuthzenDecision {
  decision: boolean;
  context?: Record<string, unknown>;
}

/** What of a decision response this mapping reads. */
interface Answered {
  decision_id: string;
  decision: string;
  reasons?: unknown[];
  obligations?: unknown[];
  risk?: { tier?: string };
  policy?: { key?: string };
  mode?: string;
  observed?: unknown;
  stale?: boolean;
  fail_mode_applied?: unknown;
  audit?: string;
  delegated_credential?: unknown;
  receipt?: string;
  session?: {
    replayed?: boolean;
    replay_of?: string;
    fail_mode_applied?: string;
    approval?: { id: string; status: string; expires_at?: string };
  };
}

/** Long-polls are held up to this long (routes/approvals.ts caps `wait` at 60 s). */
const WAIT_SECONDS = 60;

/** The approval's state, and while it holds the action back, how to wait and what to resend. */
function approvalContext(approval: NonNullable<Answered["session"]>["approval"] & {}, waiting: boolean, origin: string): Record<string, unknown> {
  const path = `/v1/approvals/${approval.id}`;
  const socketOrigin = origin.replace(/^http/, "ws");
  return {
    id: approval.id,
    status: approval.status,
    ...(approval.expires_at ? { expires_at: approval.expires_at } : {}),
    ...(waiting
      ? {
          // Either way, with the same credential; then the same evaluation again, with the approval's id in its context.
          wait: `${origin}${path}?wait=${WAIT_SECONDS}`,
          websocket: `${socketOrigin}${path}`,
          retry_with: { context: { approval_id: approval.id } },
        }
      : {}),
  };
}

/**
 * `origin` is where the enforcement point reached this edge; the approval
 * links in the context are built on it.
 */
export function authzenDecision(response: DecisionResponse, origin: string): AuthzenDecision {
  const answer = response as unknown as Answered;
  const session = answer.session;
  const context: Record<string, unknown> = {
    decision_id: answer.decision_id,
    outcome: answer.decision,
    reasons: answer.reasons ?? [],
  };
  if (answer.obligations && answer.obligations.length > 0) context.obligations = answer.obligations;
  if (answer.risk?.tier) context.risk_tier = answer.risk.tier;
  if (answer.policy?.key) context.policy_key = answer.policy.key;
  if (answer.mode && answer.mode !== "enforce") context.mode = answer.mode;
  if (answer.observed !== undefined) context.observed = answer.observed;
  if (answer.stale) context.stale = true;
  const failMode = answer.fail_mode_applied ?? session?.fail_mode_applied;
  if (failMode !== undefined) context.fail_mode_applied = failMode;
  if (answer.audit !== undefined) context.audit = answer.audit;
  if (session?.replayed && session.replay_of !== undefined) context.replay_of = session.replay_of;
  if (session?.approval) context.approval = approvalContext(session.approval, answer.decision === "require_approval", origin);
  if (answer.delegated_credential !== undefined) context.delegated_credential = answer.delegated_credential;
  if (answer.receipt !== undefined) context.receipt = answer.receipt;
  return { decision: answer.decision === "allow", context };
}

/** An evaluation that could not be decided (§7.2.1): closed, with the error in its context. */
export function failedEvaluation(status: number, code: string, message: string, path?: string): AuthzenDecision {
  return { decision: false, context: { error: { status, code, message, ...(path !== undefined ? { path } : {}) } } };
}

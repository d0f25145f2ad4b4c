/**
 * @module types
 * The contract between the edge and the session's Durable Objects: what the
 * edge asks after evaluating a decision, and what the object answers.
 */
import type { Reason, Verdict } from "../types";

export interface Usage {
  tokens: number;
  api_calls: number;
  cost_usd: number;
  wall_clock_s: number;
}

export interface BreakerParams {
  threshold: number;
  window_s: number;
  /** 0: stays open until an operator resets it; otherwise half-open after this many seconds. */
  cooldown_s: number;
}

export interface AgentLimit {
  key: string;
  max: number;
  window_s: number;
}

export interface CommitRequest {
  decision_id: string;
  /**
   * The caller's `Idempotency-Key`, when it sent one: a retried HTTP request
   * carries a new decision id but the same key, and must not be debited twice.
   */
  idempotency_key?: string;
  now_ms: number;
  tenant: string;
  session_id: string;
  agent_id: string;
  /** sha256 of the canonical action (tenant, agent, session, action): what an approval is bound to. */
  action_hash: string;
  /** For a require_approval verdict, the only one that may create an approval: the action as its approvers see it. */
  action_summary?: string;
  verdict: Verdict;
  cost: { tokens: number; api_calls: number; cost_usd: number };
  /** Empty when the policy could not say (it failed to evaluate): the session's last known limits apply. */
  limits: Partial<Usage>;
  breaker: BreakerParams;
  agent_limit: AgentLimit | null;
  approval_ttl_s: number;
  approval_id?: string;
  /** For a require_approval verdict: what the approval will show its approvers. */
  approval_context?: ApprovalContext;
  /** What the caller claims about its place in a delegation tree; checked against the records. */
  /** `root_agent_id`: for a sub-agent, the registered agent at the root of its tree (agent-wide limits count the whole tree there). */
  delegation: { root_agent_id?: string; parent_agent_id?: string; parent_session_id?: string; scopes: string[]; depth: number };
  /** Set when an allowed spawn_agent registers a child under this session. */
  spawn?: { agent_id: string; scopes: string[] };
  /**
   * False when the policy's own denial is the infrastructure's (a stale or
   * unavailable policy, a missing signing key): such a denial says nothing
   * about the agent, so it never counts toward the breaker.
   */
  policy_denial_counts?: boolean;
  /** The decision may have to be undone (its audit record must be written first): keep what it changed. */
  revertible?: boolean;
  /**
   * The scope is in observe mode: the agent is told allow whatever happens,
   * so the session records nothing enforcement would not have let happen:
   * no breaker count, no approval asked for, no debit of what was refused.
   */
  observe?: boolean;
  /**
   * The MCP gateway cannot name an approval (its client resends the same
   * call): an approved, unused approval of this session for exactly this
   * action is used as if `approval_id` had named it.
   */
  approval_by_action?: boolean;
  /**
   * The session data classes the decision was evaluated with. When the
   * object holds one the evaluation did not see, it commits nothing and
   * answers `stale_classes`: the edge evaluates again with them.
   */
  data_classes_seen?: string[];
}

/** What a session's object answers a record of data classes: every class it now holds, or why it took none. */
export type RecordedClasses = { data_classes: string[] } | { refused: string };

export type BreakerState = "closed" | "open" | "half_open";

/** A session's breaker as it reports it to the tenant's breaker index (opened, or closed again). */
export interface BreakerReport {
  tenant: string;
  agent_id: string;
  session_id: string;
  state: "open" | "closed";
  opened_ms: number | null;
  reason: string | null;
  cooldown_s: number;
  /** Bumped on every report, so an older one never replaces a newer one. */
  version: number;
}

export interface CommitResult {
  verdict: Verdict;
  /** Reasons the session state added (budget, breaker, approvals, delegation). */
  reasons: Reason[];
  usage: Usage;
  breaker: BreakerState;
  approval?: { id: string; status: ApprovalStatus; expires_at: string };
  /** True when this decision id (or idempotency key) was committed before: the stored answer, nothing debited again. */
  replayed: boolean;
  /** The decision id that was committed: this one, or on a replay the original. */
  decision_id: string;
  /** On a replay: when the original was committed (epoch ms), so its receipt is the original's too. */
  decided_at_ms?: number;
  /** Set when an idempotency key was reused for a different action: nothing was committed. */
  conflict?: { message: string };
  /** The data classes the session holds (its taint), as of this commit. */
  data_classes?: string[];
  /** Set when the decision was evaluated without some of them: nothing was committed; evaluate again with these. */
  stale_classes?: string[];
}

export type ApprovalStatus = "pending" | "approved" | "rejected" | "used" | "expired";

/** What changed among the approvals an agent asked for (SessionDO.approvalChanges). */
export interface ApprovalChanges {
  /** Ids still waiting for an approver. */
  pending: string[];
  /** Approvals no longer pending that the caller had not been told of, and how they ended. */
  settled: Array<{ id: string; status: ApprovalStatus }>;
}

/**
 * What an approver sees beside the action: the decision that asked, the
 * rules that asked (their messages withheld when the policy redacts the
 * action's arguments: a message may quote them), the effective tier and what
 * the action would debit from the session's budget if allowed.
 */
export interface ApprovalContext {
  decision_id: string;
  reasons: Array<{ rule: string; message: string | null }>;
  risk_tier: string;
  cost: { tokens: number; api_calls: number; cost_usd: number };
}

export interface ApprovalRecord {
  id: string;
  tenant: string;
  session_id: string;
  agent_id: string;
  action_hash: string;
  action_summary: string;
  status: ApprovalStatus;
  created_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
  /** The decision that used it, and when. */
  used_by: string | null;
  used_at: string | null;
  /** Bumped on every change, so the tenant's index never takes an older copy over a newer one. */
  version: number;
  /** Null for approvals created before the context was kept. */
  context?: ApprovalContext | null;
}

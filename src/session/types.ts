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
  now_ms: number;
  tenant: string;
  session_id: string;
  agent_id: string;
  /** sha256 of the canonical action (tenant, agent, session, action): what an approval is bound to. */
  action_hash: string;
  action_summary: string;
  verdict: Verdict;
  cost: { tokens: number; api_calls: number; cost_usd: number };
  limits: Partial<Usage>;
  breaker: BreakerParams;
  agent_limit: AgentLimit | null;
  approval_ttl_s: number;
  approval_id?: string;
  /** What the caller claims about its place in a delegation tree; checked against the records. */
  delegation: { parent_session_id?: string; scopes: string[]; depth: number };
  /** Set when an allowed spawn_agent registers a child under this session. */
  spawn?: { agent_id: string; scopes: string[] };
}

export type BreakerState = "closed" | "open" | "half_open";

export interface CommitResult {
  verdict: Verdict;
  /** Reasons the session state added (budget, breaker, approvals, delegation). */
  reasons: Reason[];
  usage: Usage;
  breaker: BreakerState;
  approval?: { id: string; status: string; expires_at: string };
  /** True when this decision id was committed before: the stored answer, nothing debited again. */
  replayed: boolean;
}

export interface ApprovalRecord {
  id: string;
  tenant: string;
  session_id: string;
  agent_id: string;
  action_hash: string;
  action_summary: string;
  status: "pending" | "approved" | "rejected" | "used" | "expired";
  created_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
}

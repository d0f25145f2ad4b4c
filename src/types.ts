/**
 * @module types
 * The decision contract shared by the routes and the engine: what the policy
 * entrypoint `data.tollgate.decision` returns, and what the edge adds.
 */

export type Verdict = "allow" | "deny" | "require_approval";
export type RiskTier = "low" | "medium" | "high" | "critical";
export type FailMode = "open" | "closed";

export interface Reason {
  rule: string;
  message: string;
}

/** The policy's own answer, exactly as `opa eval data.tollgate.decision` returns it. */
export interface PolicyDecision {
  decision: Verdict;
  reasons: Reason[];
  obligations: unknown[];
  risk_tier?: string;
  fail_mode?: FailMode;
  cost?: { tokens?: number; api_calls?: number; cost_usd?: number };
  ttl_s?: number;
  [extra: string]: unknown;
}

/** Which code answered: the Worker Loader sandbox, or the copy compiled into the deploy. */
export type EvaluationPath = "sandbox" | "baseline" | "fail_mode";

export interface LayerRef {
  scope: string;
  digest: string;
  version: number;
  built_at: string;
}

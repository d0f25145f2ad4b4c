/**
 * @module record
 * One audit record per decision. Arguments are recorded only as far as the
 * policy allows: nothing by default; the fields a `log_args` obligation
 * names; a `hash` obligation replaces fields by their sha256; a `redact`
 * obligation (which the policy sets whenever PII is involved) keeps the
 * arguments out of the log entirely.
 */
import type { LayerRef } from "../types";

export interface AuditRecord {
  kind: "decision";
  decision_id: string;
  time: string;
  location: string;
  region: string;
  /** Why that region governed: `tenant_pin`, `country:DE`, `continent:EU`, … */
  region_source: string;
  /** The region of the request's location, when a tenant's pin named another: its layer governed too. */
  located_region?: string;
  tenant: string;
  agent: string;
  /** The credential that proved who the agent is. */
  credential: { kind: string; id: string };
  session: string;
  risk_tier: string;
  action_type: string;
  tool: string | null;
  /** Set by the MCP gateway on what it decided: the server, and what the request named (a tool, resource, prompt, completion, or an answer to the server's own request). */
  mcp?: Record<string, unknown>;
  decision: string;
  rules: string[];
  /** The reasons behind `rules`, with their messages (null where the policy redacts the arguments). */
  reasons?: Array<{ rule: string; message: string | null }>;
  obligations: unknown[];
  layers: Array<Pick<LayerRef, "scope" | "digest" | "version">>;
  mode: string;
  /** What the agent was told, when it differs from `decision` (observe mode). */
  told?: string;
  fail_mode_applied: boolean;
  stale: boolean;
  eval_us: number;
  args?: Record<string, unknown>;
  args_redacted?: boolean;
  /** What the policy printed while deciding, by layer (bounded; the policy's output, not the edge's). */
  policy_print?: Record<string, string[]>;
  /** The signed receipt the agent was given (packages/agent/src/receipt.ts), when the edge signs them. */
  receipt?: string;
  /** Set when the agent made this decision offline and uploaded it later (from-offline.ts). */
  offline?: {
    source: "local_policy" | "fail_mode";
    action_hash: string;
    last_contact: string | null;
    uploaded_at: string;
    lease_id?: string;
    cost?: { tokens: number; api_calls: number; cost_usd: number };
    spool: { seq: number; prev: string; hash: string; gap_before?: true };
    /** Why the offline bounds governing at upload could not have produced it (tier_not_offline, outside_offline_window, spent_without_lease). */
    out_of_bounds?: string[];
  };
}

export { loggableArgs, obligationsOf } from "../../packages/agent/src/loggable-args.ts";

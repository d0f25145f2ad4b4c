/**
 * @module record
 * One audit record per decision. Arguments are recorded only as far as the
 * policy allows: nothing by default; the fields a `log_args` obligation
 * names; a `hash` obligation replaces fields by their sha256; a `redact`
 * obligation (which the policy sets whenever PII is involved) keeps the
 * arguments out of the log entirely.
 */
import { canonicalJson, sha256Hex } from "../bundles/canonical";
import type { LayerRef } from "../types";

export interface AuditRecord {
  kind: "decision";
  decision_id: string;
  time: string;
  location: string;
  region: string;
  /** Why that region governed: `tenant_pin`, `country:DE`, `continent:EU`, … */
  region_source: string;
  tenant: string;
  agent: string;
  /** The credential that proved who the agent is. */
  credential: { kind: string; id: string };
  session: string;
  risk_tier: string;
  action_type: string;
  tool: string | null;
  decision: string;
  rules: string[];
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
}

type Obligation = { type?: string; fields?: unknown };

/** The policy's obligations of one type (`log_args`, `hash`, `redact`, `audit_sync`…). */
export function obligationsOf(obligations: unknown[], type: string): Obligation[] {
  return obligations.filter((o): o is Obligation => typeof o === "object" && o !== null && (o as Obligation).type === type);
}

function fieldsOf(obligations: unknown[], type: string): string[] | undefined {
  const found = obligationsOf(obligations, type);
  if (found.length === 0) return undefined;
  return found.flatMap((o) => (Array.isArray(o.fields) ? o.fields.filter((f): f is string => typeof f === "string") : []));
}

/** The arguments as the policy allows them to be logged, or undefined when none may be. */
export async function loggableArgs(args: unknown, obligations: unknown[]): Promise<{ args?: Record<string, unknown>; redacted: boolean }> {
  if (!args || typeof args !== "object") return { redacted: false };
  if (fieldsOf(obligations, "redact") !== undefined) return { redacted: true };
  const allowed = fieldsOf(obligations, "log_args");
  if (!allowed || allowed.length === 0) return { redacted: false };
  const hashed = new Set(fieldsOf(obligations, "hash") ?? []);
  const out: Record<string, unknown> = {};
  for (const field of allowed) {
    if (!(field in (args as Record<string, unknown>))) continue;
    const value = (args as Record<string, unknown>)[field];
    out[field] = hashed.has(field) ? `sha256:${await sha256Hex(canonicalJson(value))}` : value;
  }
  return { args: out, redacted: false };
}

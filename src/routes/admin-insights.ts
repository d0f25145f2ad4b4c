/**
 * @module admin-insights
 * The feedback loop from the decision log, for auditors:
 *
 *   GET /v1/admin/insights/:tenant[?days=1|7|30]
 *
 * decisions over time by outcome, the rules behind the most denials, the
 * agents with the most denials and the most approvals asked, and how long
 * approvals took to be decided. Read from what the tenant's chain object
 * still holds (AUDIT_RETENTION_DAYS) and its approvals index; the answer
 * says how far back that reaches.
 */
import { Hono } from "hono";
import { chainFor } from "../audit/writer";
import { released } from "../rpc-result";
import { ApiError } from "../errors";
import type { AdminVariables } from "../middleware/admin-auth";
import { approvalsIndex } from "../session/objects";
import { tenantParam } from "./admin-params";

const HOUR_MS = 3_600_000;
/** The windows offered, with the width of a chart's column in each. */
const WINDOWS: Record<string, number> = { "1": HOUR_MS, "7": 6 * HOUR_MS, "30": 24 * HOUR_MS };

export interface Insights {
  tenant: string;
  days: number;
  from: string;
  to: string;
  bucket_ms: number;
  /** Per column start: counts by outcome. */
  over_time: Array<{ start: string; allow: number; deny: number; require_approval: number }>;
  top_deny_rules: Array<{ rule: string; n: number }>;
  top_denied_agents: Array<{ agent: string; n: number }>;
  top_approval_agents: Array<{ agent: string; n: number }>;
  time_to_approval: { decided: number; median_s: number | null; p90_s: number | null; buckets: Array<{ label: string; n: number }> };
  oldest_held: string | null;
}

const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);

const LATENCY_BUCKETS: Array<{ label: string; under_s: number }> = [
  { label: "under 1 min", under_s: 60 },
  { label: "1–5 min", under_s: 300 },
  { label: "5–15 min", under_s: 900 },
  { label: "15–60 min", under_s: 3600 },
  { label: "over 1 h", under_s: Infinity },
];

export async function insightsOf(env: Env, tenant: string, daysParam: string | undefined, nowMs: number): Promise<Insights> {
  const days = daysParam ?? "7";
  const bucketMs = WINDOWS[days];
  if (bucketMs === undefined) throw new ApiError(400, "invalid_input", "days is 1, 7 or 30", "days");
  // Columns end at the next whole column, so the newest one is the current hour, quarter-day or day.
  const toMs = Math.ceil((nowMs + 1) / bucketMs) * bucketMs;
  const fromMs = toMs - Number(days) * 24 * HOUR_MS;
  const [chain, times] = await Promise.all([chainFor(env, tenant).insights(fromMs, toMs, bucketMs).then(released), approvalsIndex(env, tenant).decisionTimes(fromMs, toMs).then(released)]);
  const columns = Math.round((toMs - fromMs) / bucketMs);
  const over_time = Array.from({ length: columns }, (_, i) => ({ start: new Date(fromMs + i * bucketMs).toISOString(), allow: 0, deny: 0, require_approval: 0 }));
  for (const row of chain.by_bucket) {
    const column = over_time[row.bucket];
    if (column && (row.outcome === "allow" || row.outcome === "deny" || row.outcome === "require_approval")) column[row.outcome] += row.n;
  }
  const buckets = LATENCY_BUCKETS.map((b) => ({ label: b.label, n: 0 }));
  for (const s of times) buckets[LATENCY_BUCKETS.findIndex((b) => s < b.under_s)].n++;
  return {
    tenant,
    days: Number(days),
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    bucket_ms: bucketMs,
    over_time,
    top_deny_rules: chain.top_deny_rules,
    top_denied_agents: chain.top_denied_agents,
    top_approval_agents: chain.top_approval_agents,
    time_to_approval: { decided: times.length, median_s: quantile(times, 0.5), p90_s: quantile(times, 0.9), buckets },
    oldest_held: chain.oldest_held_ms === null ? null : new Date(chain.oldest_held_ms).toISOString(),
  };
}

export const adminInsightsRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>().get("/insights/:tenant", async (c) => {
  const tenant = tenantParam(c.req.param("tenant"));
  return c.json(await insightsOf(c.env, tenant, c.req.query("days"), Date.now()));
});

/**
 * @module insights-section
 * Insights from the decision log, as charts read at a glance: decisions
 * over time by outcome, the rules that deny most, the agents with the most
 * denials and approvals asked, and time to approval. This is where a
 * policy that over-constrains agents shows. Stands for
 * `GET /v1/admin/insights/:tenant` (role auditor), and computes the same.
 *
 *   GET /console/insights
 *   GET /console/insights/:tenant[?days=1|7|30]
 */
import { Hono } from "hono";
import { tenantParam } from "../routes/admin-params";
import { insightsOf } from "../routes/admin-insights";
import { BarChart, StackedColumns } from "./charts";
import type { ConsoleVariables } from "./console-access";
import { sectionContext, tenantChooserPage, type ConsoleContext } from "./section-page";

import { Page, Time } from "./layout";

const pageContext = (c: ConsoleContext) => sectionContext(c, "insights");

function duration(seconds: number | null): string {
  if (seconds === null) return "—";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

export const insightsSection = new Hono<{ Bindings: Env; Variables: ConsoleVariables }>()
  .get("/insights", tenantChooserPage("insights", "Insights", "insights"))
  .get("/insights/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const insights = await insightsOf(c.env, tenant, c.req.query("days"), Date.now());
    const context = await pageContext(c);
    const label = (iso: string) => (insights.days === 1 ? iso.slice(11, 16) : insights.days === 7 ? `${iso.slice(5, 10)} ${iso.slice(11, 13)}h` : iso.slice(5, 10));
    const search = (params: Record<string, string>) => `/console/decisions/${tenant}?${new URLSearchParams({ from: insights.from.slice(0, 19), ...params })}`;
    const total = insights.over_time.reduce((sum, column) => sum + column.allow + column.deny + column.require_approval, 0);
    return c.html(
      <Page title={`Insights for ${tenant}`} context={context}>
        <h1>Insights for {tenant}</h1>
        <nav aria-label="Period" class="actions">
          {[1, 7, 30].map((days) => (
            <a href={`/console/insights/${tenant}?days=${days}`} aria-current={days === insights.days ? "page" : undefined}>
              last {days === 1 ? "24 hours" : `${days} days`}
            </a>
          ))}
        </nav>
        <p class="muted">
          {total} decision{total === 1 ? "" : "s"} from <Time at={insights.from} /> to <Time at={insights.to} />.
          {insights.oldest_held && Date.parse(insights.oldest_held) > Date.parse(insights.from) ? <> The log's chain object holds records from <Time at={insights.oldest_held} /> on; older ones are in the export.</> : null}
        </p>
        <h2>Decisions over time</h2>
        <StackedColumns
          id="over-time"
          title={`Decisions by outcome, per ${insights.days === 1 ? "hour" : insights.days === 7 ? "6 hours" : "day"}`}
          buckets={insights.over_time.map((column) => label(column.start))}
          series={(["allow", "require_approval", "deny"] as const).map((name) => ({ name, values: insights.over_time.map((column) => column[name]) }))}
          empty="No decision in this period."
        />
        <h2>Rules that deny most</h2>
        <BarChart
          id="deny-rules"
          title="Denials by rule (a denial can name several rules)"
          colour="#cf222e"
          bars={insights.top_deny_rules.map((r) => ({ label: r.rule, value: r.n, href: search({ outcome: "deny", rule: r.rule }) }))}
          empty="No denial in this period."
        />
        <h2>Agents with the most denials</h2>
        <BarChart
          id="denied-agents"
          title="Denials by agent"
          colour="#cf222e"
          bars={insights.top_denied_agents.map((a) => ({ label: a.agent, value: a.n, href: search({ outcome: "deny", agent: a.agent }) }))}
          empty="No agent was denied in this period."
        />
        <h2>Agents with the most approvals asked</h2>
        <BarChart
          id="approval-agents"
          title="Approvals asked by agent"
          colour="#9a6700"
          bars={insights.top_approval_agents.map((a) => ({ label: a.agent, value: a.n, href: search({ outcome: "require_approval", agent: a.agent }) }))}
          empty="No approval was asked in this period."
        />
        <h2>Time to approval</h2>
        {insights.time_to_approval.decided === 0 ? (
          <p class="empty">No approval was decided in this period.</p>
        ) : (
          <>
            <p>
              {insights.time_to_approval.decided} decided; median {duration(insights.time_to_approval.median_s)}, 90% within {duration(insights.time_to_approval.p90_s)}.
            </p>
            <BarChart id="time-to-approval" title="Approvals by time to decision" colour="#0b57d0" bars={insights.time_to_approval.buckets.map((b) => ({ label: b.label, value: b.n }))} empty="" />
          </>
        )}
      </Page>,
    );
  });

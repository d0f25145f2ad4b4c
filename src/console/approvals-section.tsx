/**
 * @module approvals-section
 * The approvals inbox and each approval's page, with its decision form.
 *
 *   GET  /console/approvals                       the approver's tenants
 *   GET  /console/approvals/:tenant[?status=]     the inbox (pending first), live
 *   GET  /console/approvals/:tenant/live          server-sent events from the tenant's index
 *   GET  /console/approvals/:tenant/:id           one approval: the action as the policy lets it be
 *                                                 shown, the rules that asked, agent, owner, session,
 *                                                 budget effect, expiry; the decision form
 *   POST /console/approvals/:tenant/:id           approve or reject, with a reason
 *
 * `/console/approvals/<tenant>/<approval id>` is the stable deep link the
 * MCP gateway's elicitation points to. The session object that holds the
 * approval is the authority (as for the admin API): deciding goes there and
 * wakes the waiting agent at once.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../errors";
import { registryObject } from "../identity/registry-cache";
import { APPROVAL_STATUSES, holderOf } from "../routes/approvals";
import { tenantParam } from "../routes/admin-params";
import { approvalsIndex, sessionObject } from "../session/objects";
import type { ApprovalRecord, ApprovalStatus, Usage } from "../session/types";
import type { ConsoleVariables } from "./console-access";
import { sectionContext, tenantChooserPage, type ConsoleContext } from "./section-page";
import { checkCsrf } from "./console-session";
import { readForm } from "./form-body";
import { Badge, Page, Time } from "./layout";

const pageContext = (c: ConsoleContext) => sectionContext(c, "approvals");

/** The action as stored for approvers (arguments already cut to what the policy lets be shown). */
function actionOf(record: ApprovalRecord): { type?: string; tool?: string; args?: unknown; steps?: string[] } {
  try {
    return JSON.parse(record.action_summary) as { type?: string; tool?: string; args?: unknown; steps?: string[] };
  } catch {
    // Stored cut short (as summaries were before they kept their shape): shown as it is, never as "no argument logged".
    return { args: record.action_summary };
  }
}

function ArgsView(props: { args: unknown }) {
  if (props.args === undefined) return <span class="muted">none shown (the policy logs no argument of this action)</span>;
  if (typeof props.args === "string") return <span class="muted">{props.args}</span>;
  return <code>{JSON.stringify(props.args)}</code>;
}

function untilText(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  if (ms <= 0) return "expired";
  const minutes = Math.round(ms / 60_000);
  return minutes < 60 ? `in ${minutes} min` : `in ${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function Inbox(props: { tenant: string; status: string; approvals: ApprovalRecord[]; now: number }) {
  const { tenant, approvals, now } = props;
  return (
    <section id="inbox" data-live-region aria-live="polite">
      {approvals.length === 0 ? (
        <p class="empty">
          {props.status === "pending" ? `No approval is waiting for ${tenant}. New requests appear here as agents make them.` : `No ${props.status === "all" ? "" : `${props.status} `}approval for ${tenant}.`}
        </p>
      ) : (
        <table>
          <caption class="muted caption">
            {approvals.length} approval{approvals.length === 1 ? "" : "s"}
          </caption>
          <thead>
            <tr>
              <th scope="col">Requested</th>
              <th scope="col">Action</th>
              <th scope="col">Asked by rule</th>
              <th scope="col">Agent</th>
              <th scope="col">Session</th>
              <th scope="col">Expires</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span class="muted">Open</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {approvals.map((record) => {
              const action = actionOf(record);
              return (
                <tr>
                  <td>
                    <Time at={record.created_at} />
                  </td>
                  <td>
                    <code>{action.tool ?? action.type ?? "?"}</code>
                  </td>
                  <td>{record.context ? record.context.reasons.map((r) => <code>{r.rule} </code>) : <span class="muted">not recorded</span>}</td>
                  <td>{record.agent_id}</td>
                  <td>
                    <code>{record.session_id}</code>
                  </td>
                  <td>{record.status === "pending" ? untilText(record.expires_at, now) : <Time at={record.expires_at} />}</td>
                  <td>
                    <Badge value={record.status} />
                  </td>
                  <td>
                    <a href={`/console/approvals/${tenant}/${record.id}`} aria-label={`Review ${action.tool ?? "action"} by ${record.agent_id}, requested ${record.created_at}`}>
                      {record.status === "pending" ? "Review" : "View"}
                    </a>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

const FILTERS = ["pending", "all", ...APPROVAL_STATUSES.filter((s) => s !== "pending")];

function statusFilter(value: string | undefined): string {
  if (value === undefined || value === "") return "pending";
  if (!FILTERS.includes(value)) throw new ApiError(400, "invalid_input", `status is one of ${FILTERS.join(", ")}`, "status");
  return value;
}

const DIMENSIONS: Array<keyof Usage> = ["tokens", "api_calls", "cost_usd", "wall_clock_s"];

function BudgetEffect(props: { record: ApprovalRecord; usage?: Usage; limits?: Partial<Usage> }) {
  const { record, usage, limits } = props;
  const cost = record.context?.cost;
  if (!cost) return <p class="muted">This approval was created before its cost was recorded.</p>;
  if (!usage) return <p class="muted">The session's usage could not be read just now; reload to try again.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Budget</th>
          <th scope="col" class="num">
            Used now
          </th>
          <th scope="col" class="num">
            This action
          </th>
          <th scope="col" class="num">
            After it
          </th>
          <th scope="col" class="num">
            Limit
          </th>
        </tr>
      </thead>
      <tbody>
        {DIMENSIONS.map((dimension) => {
          const adds = dimension === "wall_clock_s" ? 0 : cost[dimension];
          const after = usage[dimension] + adds;
          const limit = limits?.[dimension];
          const over = limit !== undefined && after > limit;
          return (
            <tr>
              <th scope="row">{dimension.replace(/_/g, " ")}</th>
              <td class="num">{usage[dimension]}</td>
              <td class="num">{dimension === "wall_clock_s" ? "—" : `+${adds}`}</td>
              <td class="num">
                {after}
                {over ? <strong> (over the limit: the agent will be denied budget_exhausted)</strong> : null}
              </td>
              <td class="num">{limit ?? "none"}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function ApprovalView(props: { tenant: string; record: ApprovalRecord; owner: string | null; usage?: Usage; limits?: Partial<Usage>; now: number; csrf: string; notice?: string; error?: string; canSeeDecisions: boolean; canSeeSessions: boolean }) {
  const { tenant, record, now } = props;
  const action = actionOf(record);
  const decisionId = record.context?.decision_id;
  return (
    <div>
      <p>
        <a href={`/console/approvals/${tenant}`}>← {tenant}'s approvals</a>
      </p>
      <h1>
        Approval for <code>{action.tool ?? action.type ?? "an action"}</code> by {record.agent_id}
      </h1>
      {props.notice ? (
        <p class="notice" role="status">
          {props.notice}
        </p>
      ) : null}
      {props.error ? (
        <p class="error" role="alert">
          {props.error}
        </p>
      ) : null}
      <section id="approval-status" data-live-region aria-live="polite">
        <dl class="facts">
          <dt>Status</dt>
          <dd>
            <Badge value={record.status} />
            {record.status === "pending" ? ` — expires ${untilText(record.expires_at, now)}` : null}
          </dd>
          <dt>Expires</dt>
          <dd>
            <Time at={record.expires_at} />
          </dd>
          <dt>Requested</dt>
          <dd>
            <Time at={record.created_at} />
          </dd>
          {record.decided_by ? (
            <>
              <dt>Decided by</dt>
              <dd>
                {record.decided_by}, <Time at={record.decided_at} />
              </dd>
              <dt>Reason given</dt>
              <dd>{record.reason}</dd>
            </>
          ) : null}
          {record.used_by ? (
            <>
              <dt>Used by decision</dt>
              <dd>
                <code>{record.used_by}</code>, <Time at={record.used_at} />
              </dd>
            </>
          ) : null}
        </dl>
      </section>
      <h2>The action</h2>
      <dl class="facts">
        <dt>Type</dt>
        <dd>{action.type ?? "?"}</dd>
        <dt>Tool</dt>
        <dd>
          <code>{action.tool ?? "—"}</code>
        </dd>
        <dt>Arguments</dt>
        <dd>
          <ArgsView args={action.args} />
        </dd>
        {Array.isArray(action.steps) ? (
          <>
            <dt>Plan steps</dt>
            <dd>
              {/* One item per step, in order: run together, step tools read as one name and their number is lost. */}
              <ol>
                {action.steps.map((tool) => (
                  <li>
                    <code>{tool}</code>
                  </li>
                ))}
              </ol>
            </dd>
          </>
        ) : null}
        <dt>Risk tier</dt>
        <dd>{record.context?.risk_tier ?? "not recorded"}</dd>
      </dl>
      <h2>Why it needs approval</h2>
      {record.context ? (
        <ul>
          {record.context.reasons.map((r) => (
            <li>
              <code>{r.rule}</code>: {r.message ?? <span class="muted">message withheld: the policy redacts this action's arguments</span>}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">The rules were not recorded for this approval (created before the console).</p>
      )}
      <h2>Who is asking</h2>
      <dl class="facts">
        <dt>Agent</dt>
        <dd>{record.agent_id}</dd>
        <dt>Owner</dt>
        <dd>{props.owner ?? <span class="muted">not in the registry (deregistered, or its registry could not be read)</span>}</dd>
        <dt>Session</dt>
        <dd>
          {props.canSeeSessions ? <a href={`/console/sessions/${tenant}/${encodeURIComponent(record.agent_id)}/${encodeURIComponent(record.session_id)}`}>{record.session_id}</a> : <code>{record.session_id}</code>}
        </dd>
        <dt>Decision that asked</dt>
        <dd>{decisionId ? props.canSeeDecisions ? <a href={`/console/decisions/${tenant}/${decisionId}`}>{decisionId}</a> : <code>{decisionId}</code> : <span class="muted">not recorded</span>}</dd>
      </dl>
      <h2>What it would do to the session's budget</h2>
      <BudgetEffect record={record} usage={props.usage} limits={props.limits} />
      {record.status === "pending" ? (
        <section id="approval-decision">
          <h2>Your decision</h2>
          <form class="stack" method="post" action={`/console/approvals/${tenant}/${record.id}`}>
            <input type="hidden" name="_csrf" value={props.csrf} />
            <label>
              Reason (recorded with your name; the agent's owner and auditors see it)
              <textarea name="reason" required maxlength={1000}></textarea>
            </label>
            <div class="actions">
              <button class="approve" type="submit" name="decision" value="approve">
                Approve
              </button>
              <button class="reject" type="submit" name="decision" value="reject">
                Reject
              </button>
            </div>
          </form>
        </section>
      ) : null}
      <p id="live-status" class="live" role="status"></p>
      <span data-live={`/console/approvals/${tenant}/live`} hidden></span>
    </div>
  );
}

const decisionForm = z.strictObject({
  decision: z.enum(["approve", "reject"], { message: "choose Approve or Reject" }),
  reason: z.string().trim().min(1, "give a reason: it is recorded with your decision").max(1000, "the reason is at most 1,000 characters"),
  _csrf: z.string(),
});

/** The approval, or 404 when the id names nothing of this tenant (another tenant's is absent, as in the admin API). */
async function approvalOf(c: ConsoleContext, tenant: string, id: string): Promise<ApprovalRecord> {
  const record = await holderOf(c.env, id).approval(id);
  if (!record || record.tenant !== tenant) throw new ApiError(404, "not_found", `no approval ${id} for tenant ${tenant}; it may have been pruned 30 days after it settled`);
  return record;
}

async function renderApproval(c: ConsoleContext, tenant: string, record: ApprovalRecord, extra: { notice?: string; error?: string } = {}, status: 200 | 409 = 200) {
  const context = await pageContext(c);
  const principal = c.get("session").principal;
  const [agent, session] = await Promise.all([
    registryObject(c.env, tenant)
      .agent(record.agent_id)
      .catch(() => null),
    sessionObject(c.env, tenant, record.agent_id, record.session_id)
      .view()
      .catch(() => undefined),
  ]);
  const covers = (role: "auditor" | "operator") => principal.roles.includes(role) && (principal.scopes.includes("*") || principal.scopes.includes(`tenant:${tenant}`));
  return c.html(
    <Page title={`Approval ${record.id.slice(-8)}`} context={context} scripts>
      <ApprovalView
        tenant={tenant}
        record={record}
        owner={agent?.registration.owner ?? null}
        usage={session?.usage}
        limits={session?.limits}
        now={Date.now()}
        csrf={context.csrf ?? ""}
        canSeeDecisions={covers("auditor")}
        canSeeSessions={covers("operator")}
        {...extra}
      />
    </Page>,
    status,
  );
}

export const approvalsSection = new Hono<{ Bindings: Env; Variables: ConsoleVariables }>()
  .get("/approvals", tenantChooserPage("approvals", "Approvals", "approvals", "Pick a tenant to see what its agents are waiting on."))
  .get("/approvals/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const status = statusFilter(c.req.query("status"));
    const approvals = await approvalsIndex(c.env, tenant).list(status === "all" ? undefined : (status as ApprovalStatus), Date.now());
    const context = await pageContext(c);
    return c.html(
      <Page title={`Approvals of ${tenant}`} context={context} scripts>
        <h1>Approvals of {tenant}</h1>
        <nav aria-label="Filter by status" class="actions">
          {FILTERS.map((filter) => (
            <a href={`/console/approvals/${tenant}?status=${filter}`} aria-current={filter === status ? "page" : undefined}>
              {filter}
            </a>
          ))}
        </nav>
        <p id="live-status" class="live" role="status">
          Reload to see new requests (live updates need the page's script).
        </p>
        <span data-live={`/console/approvals/${tenant}/live`} hidden></span>
        <Inbox tenant={tenant} status={status} approvals={approvals} now={Date.now()} />
      </Page>,
    );
  })
  .get("/approvals/:tenant/live", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const stream = await approvalsIndex(c.env, tenant).fetch("https://approvals-index/live");
    // A fresh Response: the object's has immutable headers, and the console adds its own.
    return new Response(stream.body, { status: stream.status, headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" } });
  })
  .get("/approvals/:tenant/:id", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const record = await approvalOf(c, tenant, c.req.param("id"));
    // Said only when the record bears it out: a link with ?done=approved must not tell an approver they approved what is still pending.
    const done = c.req.query("done");
    const decidedHere = record.decided_by === c.get("session").principal.subject;
    const borneOut = done === "approved" ? record.status === "approved" || record.status === "used" : done === "rejected" && record.status === "rejected";
    const notice = borneOut && decidedHere ? `You ${done} this request. The waiting agent has been told.` : undefined;
    return renderApproval(c, tenant, record, { notice });
  })
  .post("/approvals/:tenant/:id", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const id = c.req.param("id");
    const session = c.get("session");
    const form = await readForm(c, decisionForm, (fields) => checkCsrf(c.env, session, fields._csrf));
    const outcome = form.decision === "approve" ? "approved" : "rejected";
    const result = await holderOf(c.env, id).decideApproval(id, tenant, outcome, session.principal.subject, form.reason);
    if (!result.ok) {
      if (result.status === 404) throw new ApiError(404, "not_found", `no approval ${id} for tenant ${tenant}`);
      const record = await approvalOf(c, tenant, id);
      return renderApproval(c, tenant, record, { error: `Not recorded: this approval ${result.why.replace(/^it is /, "is ")}${record.decided_by ? ` (by ${record.decided_by})` : ""}. Nothing was changed.` }, 409);
    }
    return c.redirect(`/console/approvals/${tenant}/${id}?done=${outcome}`, 303);
  });

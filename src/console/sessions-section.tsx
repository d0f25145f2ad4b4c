/**
 * @module sessions-section
 * Sessions and breakers, for operators.
 *
 *   GET  /console/sessions/:tenant                              open breakers (sessions, from the tenant's
 *                                                               breaker index; agent-wide, from each registered
 *                                                               agent's object), and a session finder
 *   GET  /console/sessions/:tenant/:agent/:session              budgets used against limits, breaker and
 *                                                               its resets, lineage, the session's approvals
 *   POST /console/sessions/:tenant/:agent/:session/breaker/reset   close the session's breaker
 *   POST /console/agent-breakers/:tenant/:agent/reset           close an agent's breakers
 *
 * Each stands for the admin call of the same name (role operator on the
 * tenant); resets are recorded with who made them, by the objects.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "../errors";
import { AGENT_ID_MESSAGE, isActingAgentId } from "../identity/registration";
import { registryObject } from "../identity/registry-cache";
import { tenantParam } from "../routes/admin-params";
import { agentObject, breakerIndex, sessionObject } from "../session/objects";
import type { Usage } from "../session/types";
import type { ConsoleVariables } from "./console-access";
import { sectionContext, tenantChooserPage, type ConsoleContext } from "./section-page";
import { checkCsrf } from "./console-session";
import { readForm } from "./form-body";
import { Badge, Page, Time } from "./layout";

/** Agent-wide breakers are read from each registered agent's object: at most this many agents. */
const AGENT_SCAN = 100;

const pageContext = (c: ConsoleContext) => sectionContext(c, "sessions");

/** A session's agent: a registered agent, or a sub-agent below one (its sessions are looked up the same way). */
function agentParam(value: string | undefined): string {
  if (!value || !isActingAgentId(value)) throw new ApiError(400, "invalid_agent", `${AGENT_ID_MESSAGE}; a sub-agent's id is its parent's, "!", and its name`, "agent");
  return value;
}

function sessionParam(value: string | undefined): string {
  if (!value || value.length > 256 || /[\u0000-\u001f]/.test(value)) throw new ApiError(400, "invalid_session", "a session id is 1 to 256 characters", "session");
  return value;
}

const resetForm = z.strictObject({ _csrf: z.string() });

const sessionHref = (tenant: string, agent: string, session: string) => `/console/sessions/${tenant}/${encodeURIComponent(agent)}/${encodeURIComponent(session)}`;

function ResetButton(props: { action: string; csrf: string; label: string }) {
  return (
    <form class="inline" method="post" action={props.action}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <button type="submit">{props.label}</button>
    </form>
  );
}

const DIMENSIONS: Array<keyof Usage> = ["tokens", "api_calls", "cost_usd", "wall_clock_s"];

function BudgetTable(props: { usage: Usage; limits: Partial<Usage> }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Budget</th>
          <th scope="col" class="num">
            Used
          </th>
          <th scope="col" class="num">
            Limit
          </th>
          <th scope="col">Share used</th>
        </tr>
      </thead>
      <tbody>
        {DIMENSIONS.map((dimension) => {
          const used = props.usage[dimension];
          const limit = props.limits[dimension];
          const share = limit ? Math.min(100, Math.round((used / limit) * 100)) : undefined;
          return (
            <tr>
              <th scope="row">{dimension.replace(/_/g, " ")}</th>
              <td class="num">{used}</td>
              <td class="num">{limit ?? "none named"}</td>
              <td>
                {share === undefined ? (
                  <span class="muted">—</span>
                ) : (
                  <>
                    <meter min={0} max={100} value={share} high={80} optimum={0}>
                      {share}%
                    </meter>{" "}
                    {share}%
                  </>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export const sessionsSection = new Hono<{ Bindings: Env; Variables: ConsoleVariables }>()
  .get("/sessions", tenantChooserPage("sessions", "Sessions & breakers", "breakers"))
  .get("/sessions/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const agent = c.req.query("agent");
    const session = c.req.query("session");
    if (agent || session) return c.redirect(sessionHref(tenant, agentParam(agent), sessionParam(session)), 303);
    const [breakers, agents] = await Promise.all([breakerIndex(c.env, tenant).list(), registryObject(c.env, tenant).list()]);
    const agentBreakers = (
      await Promise.all(
        agents.slice(0, AGENT_SCAN).map(async (a) => ({ agent: a.agent, open: (await agentObject(c.env, tenant, a.agent).view()).open })),
      )
    ).filter((a) => a.open.length > 0);
    const open = breakers.filter((b) => b.state === "open");
    const closed = breakers.filter((b) => b.state !== "open");
    const context = await pageContext(c);
    const csrf = context.csrf ?? "";
    const now = Date.now();
    const notice = c.req.query("done") === "reset" ? "Breaker reset. The session's next action is judged afresh." : undefined;
    return c.html(
      <Page title={`Breakers of ${tenant}`} context={context}>
        <h1>Sessions &amp; breakers of {tenant}</h1>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <h2>Open session breakers</h2>
        {open.length === 0 ? (
          <p class="empty">No session of {tenant} has an open breaker.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Session</th>
                <th scope="col">Open since</th>
                <th scope="col">Why</th>
                <th scope="col">Until</th>
                <th scope="col">Reset</th>
              </tr>
            </thead>
            <tbody>
              {open.map((b) => {
                const halfOpen = b.cooldown_s > 0 && b.opened_at ? Date.parse(b.opened_at) + b.cooldown_s * 1000 : undefined;
                return (
                  <tr>
                    <td>{b.agent_id}</td>
                    <td>
                      <a href={sessionHref(tenant, b.agent_id, b.session_id)}>{b.session_id}</a>
                    </td>
                    <td>
                      <Time at={b.opened_at} />
                    </td>
                    <td>{b.reason ?? "—"}</td>
                    <td>{halfOpen === undefined ? "an operator resets it" : halfOpen <= now ? "half-open now (one good action closes it)" : <>half-open at <Time at={halfOpen} /></>}</td>
                    <td>
                      <ResetButton action={`${sessionHref(tenant, b.agent_id, b.session_id)}/breaker/reset`} csrf={csrf} label={`Reset ${b.session_id}`} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
        <h2>Open agent-wide breakers</h2>
        {agentBreakers.length === 0 ? (
          <p class="empty">No agent of {tenant} has an agent-wide breaker open{agents.length > AGENT_SCAN ? ` (the first ${AGENT_SCAN} registered agents were checked)` : ""}.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Limit</th>
                <th scope="col">Why</th>
                <th scope="col">Reset</th>
              </tr>
            </thead>
            <tbody>
              {agentBreakers.map((a) =>
                a.open.map((b) => (
                  <tr>
                    <td>{a.agent}</td>
                    <td>
                      <code>{b.key}</code>
                    </td>
                    <td>{b.reason}</td>
                    <td>
                      <ResetButton action={`/console/agent-breakers/${tenant}/${encodeURIComponent(a.agent)}/reset`} csrf={csrf} label={`Reset ${a.agent}`} />
                    </td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        )}
        {closed.length > 0 ? (
          <>
            <h2>Closed in the last 7 days</h2>
            <ul>
              {closed.map((b) => (
                <li>
                  <a href={sessionHref(tenant, b.agent_id, b.session_id)}>
                    {b.agent_id} / {b.session_id}
                  </a>
                  , closed <Time at={b.updated_at} />
                </li>
              ))}
            </ul>
          </>
        ) : null}
        <h2>Find a session</h2>
        <form class="search" method="get" action={`/console/sessions/${tenant}`}>
          <label>
            Agent
            <input name="agent" required maxlength={128} />
          </label>
          <label>
            Session
            <input name="session" required maxlength={256} />
          </label>
          <button type="submit">Open</button>
        </form>
      </Page>,
    );
  })
  .get("/sessions/:tenant/:agent/:session", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const agent = agentParam(c.req.param("agent"));
    const session = sessionParam(c.req.param("session"));
    const view = await sessionObject(c.env, tenant, agent, session).view();
    const context = await pageContext(c);
    const notice = c.req.query("done") === "reset" ? "Breaker reset. The session's next action is judged afresh." : undefined;
    return c.html(
      <Page title={`Session ${session}`} context={context}>
        <p>
          <a href={`/console/sessions/${tenant}`}>← {tenant}'s breakers</a>
        </p>
        <h1>
          Session <code>{session}</code> of {agent}
        </h1>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <h2>Breaker</h2>
        <p>
          <Badge value={view.breaker} /> {view.breaker === "closed" ? "Actions are judged by policy." : view.breaker === "open" ? "Every action of this session is denied (circuit_open) until it is reset." : "Half-open: one allowed action closes it, one more denial reopens it."}
        </p>
        {view.breaker !== "closed" ? <ResetButton action={`${sessionHref(tenant, agent, session)}/breaker/reset`} csrf={context.csrf ?? ""} label="Reset the breaker" /> : null}
        {view.breaker_resets.length > 0 ? (
          <p>
            Reset before by{" "}
            {view.breaker_resets.map((r) => (
              <>
                {r.by} (<Time at={r.at} />){" "}
              </>
            ))}
          </p>
        ) : null}
        <h2>Budget used against limits</h2>
        <BudgetTable usage={view.usage} limits={view.limits} />
        <h2>Lineage</h2>
        {view.lineage ? (
          <p>
            Depth {view.lineage.depth}
            {view.lineage.parent_session_id ? <>, spawned from session <code>{view.lineage.parent_session_id}</code></> : ", a root session"}; scopes {view.lineage.scopes.join(", ") || "none"}.
            {view.children.length > 0 ? ` Sub-agents: ${view.children.map((child) => child.agent_id).join(", ")}.` : ""}
          </p>
        ) : (
          <p class="empty">This session has made no decision yet.</p>
        )}
        <h2>Approvals</h2>
        {view.approvals.length === 0 ? (
          <p class="empty">No approval was asked for in this session.</p>
        ) : (
          <ul>
            {view.approvals.map((a) => (
              <li>
                <Badge value={a.status} /> <code>{a.id.slice(-24)}</code>, asked <Time at={a.created_at} />
                {a.decided_by ? `, decided by ${a.decided_by}` : ""}
              </li>
            ))}
          </ul>
        )}
      </Page>,
    );
  })
  .post("/sessions/:tenant/:agent/:session/breaker/reset", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const agent = agentParam(c.req.param("agent"));
    const session = sessionParam(c.req.param("session"));
    const signedIn = c.get("session");
    await readForm(c, resetForm, (fields) => checkCsrf(c.env, signedIn, fields._csrf));
    await sessionObject(c.env, tenant, agent, session).resetBreaker(signedIn.principal.subject);
    return c.redirect(`${sessionHref(tenant, agent, session)}?done=reset`, 303);
  })
  .post("/agent-breakers/:tenant/:agent/reset", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const agent = agentParam(c.req.param("agent"));
    const signedIn = c.get("session");
    await readForm(c, resetForm, (fields) => checkCsrf(c.env, signedIn, fields._csrf));
    await agentObject(c.env, tenant, agent).reset();
    return c.redirect(`/console/sessions/${tenant}?done=reset`, 303);
  });

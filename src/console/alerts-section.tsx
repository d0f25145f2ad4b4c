/**
 * @module alerts-section
 * A tenant's alert webhooks and what became of each delivery.
 *
 *   GET  /console/alerts/:tenant                          webhooks and the newest delivery attempts
 *   POST /console/alerts/:tenant/webhooks                 add one; its signing secret is shown once
 *   POST /console/alerts/:tenant/webhooks/:id/delete      remove one
 *
 * They stand for the admin API's alert routes: operators configure, auditors
 * read.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ALERT_EVENTS } from "../alerts/alert-event";
import { alertsObject } from "../alerts/alerts-objects";
import { ApiError } from "../errors";
import { tenantParam } from "../routes/admin-params";
import { assertWebhookDestination } from "../alerts/webhook-destination";
import { webhookSchema } from "../routes/admin-alerts";
import type { ConsoleVariables } from "./console-access";
import { sectionContext, tenantChooserPage, type ConsoleContext } from "./section-page";
import { checkCsrf } from "./console-session";
import { readForm } from "./form-body";
import { Badge, Page, Time } from "./layout";

const pageContext = (c: ConsoleContext) => sectionContext(c, "alerts");

const createForm = webhookSchema.extend({ _csrf: z.string() });
const deleteForm = z.strictObject({ _csrf: z.string() });

async function renderAlerts(c: ConsoleContext, tenant: string, extra: { secret?: { id: string; value: string }; notice?: string } = {}, status: 200 | 201 = 200) {
  const alerts = alertsObject(c.env, tenant);
  const [webhooks, deliveries] = await Promise.all([alerts.list(), alerts.deliveries(100)]);
  const context = await pageContext(c);
  const canConfigure = context.principal!.roles.includes("operator");
  return c.html(
    <Page title={`Alerts of ${tenant}`} context={context}>
      <h1>Alerts of {tenant}</h1>
      {extra.secret ? (
        <div class="notice" role="status">
          <p>
            Webhook <code>{extra.secret.id}</code> added. Its signing secret is shown this once; store it with the receiver:
          </p>
          <pre>{extra.secret.value}</pre>
          <p>Every delivery carries x-tollgate-signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of "&lt;t&gt;.&lt;body&gt;" with this secret&gt;.</p>
        </div>
      ) : null}
      {extra.notice ? (
        <p class="notice" role="status">
          {extra.notice}
        </p>
      ) : null}
      <h2>Webhooks</h2>
      {webhooks.length === 0 ? (
        <p class="empty">No webhook: nobody outside the console hears of {tenant}'s breakers, critical denials, approval requests or publishes.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Webhook</th>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Format</th>
              <th scope="col">Added</th>
              {canConfigure ? <th scope="col">Remove</th> : null}
            </tr>
          </thead>
          <tbody>
            {webhooks.map((w) => (
              <tr>
                <td>
                  <code>{w.id}</code>
                </td>
                <td>
                  <code>{w.url}</code>
                </td>
                <td>{w.events.join(", ")}</td>
                <td>{w.format === "slack" ? "Slack-compatible" : "Tollgate JSON"}</td>
                <td>
                  <Time at={w.created_at} /> by {w.created_by}
                </td>
                {canConfigure ? (
                  <td>
                    <form class="inline" method="post" action={`/console/alerts/${tenant}/webhooks/${w.id}/delete`}>
                      <input type="hidden" name="_csrf" value={context.csrf} />
                      <button type="submit" aria-label={`Remove webhook ${w.id}`}>
                        Remove
                      </button>
                    </form>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canConfigure ? (
        <>
          <h2>Add a webhook</h2>
          <form class="stack" method="post" action={`/console/alerts/${tenant}/webhooks`}>
            <input type="hidden" name="_csrf" value={context.csrf} />
            <label>
              URL (https)
              <input name="url" type="url" required maxlength={2048} placeholder="https://hooks.example.com/tollgate" />
            </label>
            <fieldset>
              <legend>Events</legend>
              {ALERT_EVENTS.map((event) => (
                <label>
                  <span>
                    <input type="checkbox" name="events" value={event} checked /> {event.replace(/_/g, " ")}
                  </span>
                </label>
              ))}
            </fieldset>
            <label>
              Format
              <select name="format">
                <option value="tollgate">Tollgate JSON (the event)</option>
                <option value="slack">Slack-compatible ({"{"}"text": …{"}"})</option>
              </select>
            </label>
            <div class="actions">
              <button class="primary" type="submit">
                Add webhook
              </button>
            </div>
          </form>
        </>
      ) : null}
      <h2>Deliveries</h2>
      {deliveries.length === 0 ? (
        <p class="empty">Nothing has been sent yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Event</th>
              <th scope="col">Webhook</th>
              <th scope="col" class="num">
                Attempt
              </th>
              <th scope="col">Outcome</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((d) => (
              <tr>
                <td>
                  <Time at={d.at} />
                </td>
                <td>{d.event_type.replace(/_/g, " ")}</td>
                <td>
                  <code>{d.webhook_id}</code>
                </td>
                <td class="num">{d.attempt}</td>
                <td>
                  <Badge value={d.outcome} />
                </td>
                <td>
                  {d.http_status !== null ? `HTTP ${d.http_status}` : d.error ?? ""}
                  {d.next_attempt_at ? (
                    <>
                      ; next try <Time at={d.next_attempt_at} />
                    </>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>,
    status,
  );
}

export const alertsSection = new Hono<{ Bindings: Env; Variables: ConsoleVariables }>()
  .get("/alerts", tenantChooserPage("alerts", "Alerts", "alerts"))
  .get("/alerts/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    return renderAlerts(c, tenant, { notice: c.req.query("done") === "removed" ? "Webhook removed; nothing more is sent to it." : undefined });
  })
  .post("/alerts/:tenant/webhooks", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const session = c.get("session");
    const { _csrf: _token, ...input } = await readForm(c, createForm, (fields) => checkCsrf(c.env, session, fields._csrf), ["events"]);
    assertWebhookDestination(input.url, c.env);
    const created = await alertsObject(c.env, tenant).create(input, session.principal.subject);
    if (!created.ok) throw new ApiError(409, "too_many_webhooks", created.message);
    // Rendered here rather than redirected to, so the secret is never in a URL or the history.
    return renderAlerts(c, tenant, { secret: { id: created.webhook.id, value: created.secret } }, 201);
  })
  .post("/alerts/:tenant/webhooks/:id/delete", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const id = c.req.param("id");
    if (!/^wh_[0-9a-f]{16}$/.test(id)) throw new ApiError(400, "invalid_webhook_id", "webhook ids look like wh_<16 hex digits>", "id");
    const session = c.get("session");
    await readForm(c, deleteForm, (fields) => checkCsrf(c.env, session, fields._csrf));
    if (!(await alertsObject(c.env, tenant).remove(id))) throw new ApiError(404, "not_found", `no webhook ${id} for tenant ${tenant}`);
    return c.redirect(`/console/alerts/${tenant}?done=removed`, 303);
  });

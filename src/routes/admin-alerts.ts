/**
 * @module admin-alerts
 * A tenant's alert webhooks, through the admin API:
 *
 *   GET    /v1/admin/alerts/:tenant                 its webhooks (never their secrets) and the newest
 *                                                   delivery attempts (delivered, failed, given up)
 *   POST   /v1/admin/alerts/:tenant/webhooks        {url, events: [...], format?: "tollgate"|"slack"};
 *                                                   the signing secret is in this answer only
 *   DELETE /v1/admin/alerts/:tenant/webhooks/:id
 *
 * Operators of the tenant configure; its auditors read. A webhook's URL is
 * https (plain http only to this machine's loopback, for local runs), at
 * most 2 KiB, with no credentials in it.
 */
import { Hono } from "hono";
import { z } from "zod";
import { ALERT_EVENTS } from "../alerts/alert-event";
import { alertsObject } from "../alerts/alerts-objects";
import { assertWebhookDestination } from "../alerts/webhook-destination";
import { ApiError } from "../errors";
import { principalOf, type AdminVariables } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";
import { tenantParam } from "./admin-params";
import { readJson, validated } from "./request-body";

export const webhookSchema = z.strictObject({
  // Where it may point is checked against the deployment's settings (webhook-destination.ts).
  url: z.string().max(2048),
  events: z
    .array(z.enum(ALERT_EVENTS))
    .min(1, "choose at least one event")
    .max(ALERT_EVENTS.length)
    .refine((events) => new Set(events).size === events.length, "an event is listed once"),
  format: z.enum(["tollgate", "slack"]).default("tollgate"),
});

const WEBHOOK_ID = /^wh_[0-9a-f]{16}$/;

export const adminAlertsRoute = new Hono<{ Bindings: Env; Variables: AdminVariables }>()
  .get("/alerts/:tenant", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const alerts = alertsObject(c.env, tenant);
    const [webhooks, deliveries] = await Promise.all([alerts.list(), alerts.deliveries(200)]);
    return c.json({ tenant, webhooks, deliveries });
  })
  .post("/alerts/:tenant/webhooks", jsonBody(8 * 1024), async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const input = validated(webhookSchema, await readJson(c));
    assertWebhookDestination(input.url, c.env);
    const created = await alertsObject(c.env, tenant).create(input, principalOf(c).subject);
    if (!created.ok) throw new ApiError(409, "too_many_webhooks", created.message);
    return c.json({ webhook: created.webhook, secret: created.secret }, 201);
  })
  .delete("/alerts/:tenant/webhooks/:id", async (c) => {
    const tenant = tenantParam(c.req.param("tenant"));
    const id = c.req.param("id");
    if (!WEBHOOK_ID.test(id)) throw new ApiError(400, "invalid_webhook_id", "webhook ids look like wh_<16 hex digits>", "id");
    if (!(await alertsObject(c.env, tenant).remove(id))) throw new ApiError(404, "not_found", `no webhook ${id} for tenant ${tenant}`);
    return c.json({ deleted: id });
  });

/**
 * @module alerts-consumer
 * The alerts Queue's consumer. An event message is fanned out into one
 * delivery message per webhook that wants it, so each webhook is retried on
 * its own and one that answers never gets the same alert twice because
 * another failed. A delivery is attempted, and every attempt recorded in the
 * tenant's AlertsDO: delivered; failed, retried by the Queue after a backoff
 * that doubles (ALERT_RETRY_BASE_SECONDS, 30 s by default); given up after
 * MAX_ATTEMPTS. None of this runs on a decision's path.
 */
import { alertsObject } from "./alerts-objects";
import type { AlertMessage } from "./alert-event";
import { backoffSeconds, deliver } from "./webhook-delivery";

export const ALERTS_QUEUE = "tollgate-alerts";
export const MAX_ATTEMPTS = 5;

/**
 * The messages of a batch are handled side by side, not one after another:
 * a batch holds several tenants' deliveries, and a webhook that never
 * answers must cost its own delivery's timeout, not delay everyone else's.
 */
export async function consumeAlerts(batch: MessageBatch<AlertMessage>, env: Env): Promise<void> {
  const base = Number(env.ALERT_RETRY_BASE_SECONDS) || 30;
  await Promise.all(batch.messages.map((message) => consumeOne(message, env, base)));
}

async function consumeOne(message: Message<AlertMessage>, env: Env, base: number): Promise<void> {
  const body = message.body;
  try {
    if (body?.kind === "event") {
      const targets = await alertsObject(env, body.event.tenant).targetsFor(body.event.type);
      if (targets.length > 0) await env.ALERTS_QUEUE.sendBatch(targets.map((target) => ({ body: { kind: "delivery", webhook_id: target.id, event: body.event } satisfies AlertMessage })));
      message.ack();
      return;
    }
    if (body?.kind !== "delivery") {
      console.error(`alerts: message ${message.id} is not an alert; dropped`);
      message.ack();
      return;
    }
    const alerts = alertsObject(env, body.event.tenant);
    const target = await alerts.target(body.webhook_id);
    if (!target) {
      message.ack(); // the webhook was deleted meanwhile
      return;
    }
    const attempt = message.attempts;
    const deliveryId = `${body.event.id}:${target.id}`;
    const outcome = await deliver(target, body.event, env.CONSOLE_URL ?? "", deliveryId);
    const last = attempt >= MAX_ATTEMPTS;
    const delay = backoffSeconds(attempt, base);
    await alerts.record({
      delivery_id: deliveryId,
      webhook_id: target.id,
      event_id: body.event.id,
      event_type: body.event.type,
      attempt,
      outcome: outcome.ok ? "delivered" : last ? "given_up" : "failed",
      http_status: outcome.status,
      error: outcome.error ?? null,
      next_attempt_ms: outcome.ok || last ? null : Date.now() + delay * 1000,
    });
    if (outcome.ok || last) message.ack();
    else message.retry({ delaySeconds: delay });
  } catch (error) {
    // The tenant's record could not be reached: try the whole step again later.
    console.error(`alerts: ${(error as Error).message}; retrying`);
    message.retry({ delaySeconds: backoffSeconds(message.attempts, base) });
  }
}

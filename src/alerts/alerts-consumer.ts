/**
 * @module alerts-consumer
 * The alerts Queue's consumer. An event message (or an edge's batch of
 * them) is fanned out into one delivery message per webhook that wants it,
 * so each webhook is retried on its own and one that answers never gets the
 * same alert twice because another failed. A delivery is attempted, and
 * every attempt recorded in the tenant's AlertsDO: delivered; failed,
 * retried by the Queue after a backoff that doubles
 * (ALERT_RETRY_BASE_SECONDS, 30 s by default); given up after MAX_ATTEMPTS.
 * What cannot be fanned out or delivered is counted (`alerts_lost`), never
 * dropped silently. None of this runs on a decision's path.
 */
import { countLoss } from "../audit/writer";
import { released } from "../rpc-result";
import { cutBySize, utf8Length } from "../queue-message-size";
import { alertsObject } from "./alerts-objects";
import { ALERT_EVENTS, type AlertEvent, type AlertMessage } from "./alert-event";
import { backoffSeconds, deliver, type WebhookTarget } from "./webhook-delivery";

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
  const body = message.body as unknown;
  const kind = isRecord(body) ? body.kind : undefined;
  if (kind === "event" || kind === "events") return fanOutMessage(message, eventsIn(body as Record<string, unknown>), env, base);
  if (kind === "delivery") return deliverMessage(message as Message<Extract<AlertMessage, { kind: "delivery" }>>, env, base);
  console.error(`alerts: message ${message.id} is not an alert; dropped`);
  await countLoss(env, "alerts_lost", 1);
  message.ack();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isAlertEvent(value: unknown): value is AlertEvent {
  return (
    isRecord(value) &&
    typeof value.id === "string" &&
    typeof value.tenant === "string" &&
    typeof value.type === "string" &&
    (ALERT_EVENTS as readonly string[]).includes(value.type) &&
    typeof value.at === "string" &&
    typeof value.summary === "string" &&
    typeof value.link === "string" &&
    isRecord(value.data)
  );
}

/** The events a message carries (one, or an edge's batch); what is not an event is counted as lost, and the rest still go. */
function eventsIn(body: Record<string, unknown>): { events: AlertEvent[]; unreadable: number } {
  const candidates = body.kind === "event" ? [body.event] : Array.isArray(body.events) ? body.events : [undefined];
  const events = candidates.filter(isAlertEvent);
  return { events, unreadable: candidates.length - events.length };
}

/** Largest sendBatch the Queue takes: 100 messages, 256 KB in all. */
const MAX_SEND_BATCH_MESSAGES = 100;
const MAX_SEND_BATCH_BYTES = 192 * 1024;

/**
 * Each event becomes one delivery per webhook of its tenant that wants it.
 * Every tenant's webhooks are read before anything is sent, so a tenant whose
 * record cannot be reached has the whole message retried without a delivery
 * having left twice. After MAX_ATTEMPTS, the message's alerts are counted lost.
 */
async function fanOutMessage(message: Message<AlertMessage>, { events, unreadable }: { events: AlertEvent[]; unreadable: number }, env: Env, base: number): Promise<void> {
  try {
    const targets = new Map<string, Promise<WebhookTarget[]>>();
    const targetsOf = (event: AlertEvent) => {
      const key = `${event.tenant}\n${event.type}`;
      let found = targets.get(key);
      if (!found) targets.set(key, (found = alertsObject(env, event.tenant).targetsFor(event.type).then(released)));
      return found;
    };
    const lists = await Promise.all(events.map(targetsOf));
    const deliveries = events.flatMap((event, i) => lists[i].map((target) => ({ body: { kind: "delivery", webhook_id: target.id, event } satisfies AlertMessage })));
    const sizeOf = (delivery: (typeof deliveries)[number]) => utf8Length(JSON.stringify(delivery.body));
    for (const group of cutBySize(deliveries, sizeOf, MAX_SEND_BATCH_BYTES, 0, MAX_SEND_BATCH_MESSAGES)) await env.ALERTS_QUEUE.sendBatch(group);
  } catch (error) {
    if (message.attempts >= MAX_ATTEMPTS) {
      console.error(`alerts: ${events.length + unreadable} alert(s) given up after ${message.attempts} attempts: ${(error as Error).message}`);
      await countLoss(env, "alerts_lost", events.length + unreadable);
      message.ack();
      return;
    }
    // The tenant's record could not be reached: try the whole step again later.
    console.error(`alerts: ${(error as Error).message}; retrying`);
    message.retry({ delaySeconds: backoffSeconds(message.attempts, base) });
    return;
  }
  if (unreadable > 0) {
    console.error(`alerts: message ${message.id} held ${unreadable} item(s) that are not alerts; dropped`);
    await countLoss(env, "alerts_lost", unreadable);
  }
  message.ack();
}

async function deliverMessage(message: Message<Extract<AlertMessage, { kind: "delivery" }>>, env: Env, base: number): Promise<void> {
  const body = message.body;
  try {
    if (!isAlertEvent(body.event) || typeof body.webhook_id !== "string") {
      console.error(`alerts: delivery ${message.id} is not readable; dropped`);
      await countLoss(env, "alerts_lost", 1);
      message.ack();
      return;
    }
    const alerts = alertsObject(env, body.event.tenant);
    const target = released(await alerts.target(body.webhook_id));
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

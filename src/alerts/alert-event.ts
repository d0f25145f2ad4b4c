/**
 * @module alert-event
 * What a tenant can be alerted about, and how an alert leaves the place
 * where it happened: onto the alerts Queue, in the background of whatever
 * noticed it (never awaited by a decision; a decision's alerts, and the
 * approvals and breaker indexes', leave in batches, alert-batches.ts). A
 * Queue that refuses it is counted
 * (`alerts_lost` in the log's counters), never silently dropped.
 *
 * Events: `approval_requested` (the approvals index took a new pending
 * approval), `breaker_opened` (the breaker index took a session's opening),
 * `critical_deny` (the edge denied a critical-tier action), and
 * `policy_published` (a layer of the tenant's own scope was published).
 */
import { countLoss } from "../audit/writer";

export const ALERT_EVENTS = ["approval_requested", "breaker_opened", "critical_deny", "policy_published"] as const;
export type AlertEventType = (typeof ALERT_EVENTS)[number];

export interface AlertEvent {
  id: string;
  type: AlertEventType;
  tenant: string;
  at: string;
  /** A one-line account for people (and the Slack-compatible payload). */
  summary: string;
  /** Where in the console to look. */
  link: string;
  data: Record<string, unknown>;
}

/**
 * A Queue message: an event to fan out to the tenant's webhooks, several of
 * them (an edge's batch, alert-batches.ts), or one webhook's delivery of one.
 */
export type AlertMessage =
  | { kind: "event"; event: AlertEvent }
  | { kind: "events"; events: AlertEvent[] }
  | { kind: "delivery"; webhook_id: string; event: AlertEvent };

export function alertEvent(type: AlertEventType, tenant: string, summary: string, link: string, data: Record<string, unknown>, nowMs = Date.now()): AlertEvent {
  return { id: `evt_${crypto.randomUUID()}`, type, tenant, at: new Date(nowMs).toISOString(), summary, link, data };
}

/** Puts an event on the alerts Queue; a failure is counted, and never thrown at the caller. */
export async function raiseAlert(env: Env, event: AlertEvent): Promise<void> {
  try {
    await env.ALERTS_QUEUE.send({ kind: "event", event } satisfies AlertMessage);
  } catch (error) {
    console.error(`alert ${event.type} for ${event.tenant} not queued: ${(error as Error).message}`);
    await countLoss(env, "alerts_lost");
  }
}

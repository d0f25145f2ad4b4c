/**
 * @module alert-event
 * What a tenant can be alerted about, and how an alert leaves the place
 * where it happened: onto the alerts Queue, in the background of whatever
 * noticed it, never awaited by a decision: every alert joins its isolate's
 * batch (alert-batches.ts). A Queue that refuses a batch's message is
 * counted (`alerts_lost` in the log's counters), never silently dropped.
 *
 * Events: `approval_requested` (the approvals index took a new pending
 * approval), `breaker_opened` (the breaker index took a session's opening),
 * `critical_deny` (the edge denied a critical-tier action), and
 * `policy_published` (a layer of the tenant's own scope was published).
 */
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
 * A Queue message: events to fan out to the tenant's webhooks (a batch,
 * alert-batches.ts; a single `event` is what deployments before batches
 * sent, still read so none left on the Queue is lost), or one webhook's
 * delivery of one.
 */
export type AlertMessage =
  | { kind: "event"; event: AlertEvent }
  | { kind: "events"; events: AlertEvent[] }
  | { kind: "delivery"; webhook_id: string; event: AlertEvent };

export function alertEvent(type: AlertEventType, tenant: string, summary: string, link: string, data: Record<string, unknown>, nowMs = Date.now()): AlertEvent {
  return { id: `evt_${crypto.randomUUID()}`, type, tenant, at: new Date(nowMs).toISOString(), summary, link, data };
}

/**
 * @module alert-batches
 * Alerts raised on a decision's path (a critical-tier denial) leave the edge
 * in batches, as its audit records do: an isolate gathers them for a moment
 * (window-batcher.ts) and sends them as one Queue message, whose consumer
 * fans each event out to the tenant's webhooks. An agent that keeps trying
 * critical actions raises an alert per denial, and those come in bursts: a
 * message per alert made each of them cost the isolate a Queue send (most of
 * a millisecond of its thread here) and the tenant a Queue operation. Every
 * other alert takes the same way: approvals asked for and breakers opened
 * (from their indexes) come in bursts too, whenever many sessions meet the
 * same rule, and a publish's alert is one more.
 *
 * A message the Queue refuses loses its alerts; they are counted
 * (`alerts_lost`), and the batch's other messages still go. The decisions
 * themselves are in the audit log either way.
 */
import { batcherFor } from "../window-batcher";
import { cutBySize, utf8Length } from "../queue-message-size";
import { countLoss } from "../audit/writer";
import type { AlertEvent, AlertMessage } from "./alert-event";

/** Events cut into messages the Queue accepts, in order, by the UTF-8 size of their JSON. */
export function intoAlertMessages(events: AlertEvent[], maxBytes?: number): AlertMessage[] {
  const sized = events.map((event) => ({ event, size: utf8Length(JSON.stringify(event)) }));
  return cutBySize(sized, (item) => item.size, maxBytes).map((group) => ({ kind: "events", events: group.map((item) => item.event) }));
}

async function flushAlerts(env: Env, events: AlertEvent[]): Promise<void> {
  for (const message of intoAlertMessages(events)) {
    try {
      await env.ALERTS_QUEUE.send(message);
    } catch (error) {
      const lost = message.kind === "events" ? message.events.length : 1;
      console.error(`alerts: the queue refused ${lost} alert(s): ${(error as Error).message}`);
      await countLoss(env, "alerts_lost", lost);
    }
  }
}

/** Adds an alert to this isolate's open batch; `background` keeps the batch's flush alive when this alert opened it. */
export function queueAlert(env: Env, event: AlertEvent, background: (work: Promise<unknown>) => void): void {
  const flush = batcherFor<AlertEvent>(env.ALERTS_QUEUE, (events) => flushAlerts(env, events)).add(event);
  if (flush) background(flush);
}

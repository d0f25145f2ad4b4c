/**
 * @module webhook-delivery
 * One delivery of an alert to one webhook. The body is JSON: the event
 * itself, or for a Slack-compatible webhook `{"text": …}` (what Slack's
 * incoming webhooks and most chat tools take). Either way it is signed:
 *
 *   x-tollgate-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * so a receiver can check who sent it and refuse a replay (the time is
 * inside what is signed). Redirects are not followed (a webhook that moved
 * must be updated), a slow receiver is cut off, and only a 2xx counts as
 * delivered.
 */
import type { AlertEvent } from "./alert-event";
import { toHex } from "../../packages/agent/src/hex.ts";

/** How long a receiver may take to answer. */
const DELIVERY_TIMEOUT_MS = 10_000;

export interface WebhookTarget {
  id: string;
  url: string;
  format: "tollgate" | "slack";
  secret: string;
}

export interface DeliveryOutcome {
  ok: boolean;
  status: number | null;
  error?: string;
}

/**
 * Text for Slack, where `<…>` is markup (`<!channel>` pings everyone,
 * `<url|label>` disguises a link) and `&` starts an entity: the three are
 * escaped as Slack asks, since a summary quotes what an agent sent (a tool
 * name, an argument). Line breaks and other control characters become
 * spaces, so what an agent sent stays on the alert's one line and cannot
 * write a line of its own ("[Tollgate · acme] all clear").
 */
function slackText(text: string): string {
  return text
    .replace(/[\x00-\x1f\x7f\u2028\u2029]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

export function payloadOf(event: AlertEvent, format: WebhookTarget["format"], origin: string): string {
  if (format === "slack") return JSON.stringify({ text: `[Tollgate · ${slackText(event.tenant)}] ${slackText(event.summary)} ${slackText(`${origin}${event.link}`)}` });
  return JSON.stringify({ ...event, link: `${origin}${event.link}` });
}

export async function signature(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`));
  return toHex(new Uint8Array(mac));
}

export async function deliver(target: WebhookTarget, event: AlertEvent, origin: string, deliveryId: string): Promise<DeliveryOutcome> {
  const body = payloadOf(event, target.format, origin);
  const timestamp = Math.floor(Date.now() / 1000);
  try {
    const response = await fetch(target.url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: {
        "content-type": "application/json",
        "user-agent": "tollgate-alerts",
        "x-tollgate-event": event.type,
        "x-tollgate-delivery": deliveryId,
        "x-tollgate-signature": `t=${timestamp},v1=${await signature(target.secret, timestamp, body)}`,
      },
      body,
    });
    await response.body?.cancel();
    return response.status >= 200 && response.status < 300 ? { ok: true, status: response.status } : { ok: false, status: response.status, error: `answered ${response.status}` };
  } catch (error) {
    return { ok: false, status: null, error: (error as Error).message.slice(0, 300) };
  }
}

/** Seconds before attempt `attempt + 1` (attempts count from 1): base, 2×base, 4×base… capped at an hour. */
export function backoffSeconds(attempt: number, baseSeconds: number): number {
  return Math.min(3600, baseSeconds * 2 ** Math.max(0, attempt - 1));
}

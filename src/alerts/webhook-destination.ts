/**
 * @module webhook-destination
 * Where a tenant's operator may send alerts: a public https endpoint. A URL
 * that names a host inside a network (loopback, private, link-local or
 * carrier-grade NAT addresses, unique-local IPv6, `localhost`, `*.internal`,
 * `*.local`, `*.home.arpa`) is refused, so a webhook cannot make the edge
 * probe services it can reach and the operator cannot (its answers and
 * errors are on the delivery record). Local development and tests, whose
 * receivers listen on loopback, allow loopback with http or https by
 * setting ALERT_WEBHOOKS_TO_LOOPBACK = "on".
 */
import { ApiError } from "../errors";
import { publicEndpointProblem } from "../network-hosts";

/** Why a webhook may not be sent to `value`, or undefined when it may (the webhook's secret signs each delivery: its URL carries no credentials). */
export function webhookDestinationProblem(value: string, env: { ALERT_WEBHOOKS_TO_LOOPBACK?: string }): string | undefined {
  return publicEndpointProblem(value, env.ALERT_WEBHOOKS_TO_LOOPBACK === "on");
}

/** Refuses (400, naming `url`) a webhook that may not be sent where it points. */
export function assertWebhookDestination(value: string, env: { ALERT_WEBHOOKS_TO_LOOPBACK?: string }): void {
  const problem = webhookDestinationProblem(value, env);
  if (problem) throw new ApiError(400, "invalid_input", `url: ${problem}`, "url");
}

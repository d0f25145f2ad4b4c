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

const INTERNAL_NAMES = [/^localhost$/, /\.localhost$/, /\.internal$/, /\.local$/, /\.home\.arpa$/];

function ipv4(host: string): number[] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return undefined;
  const octets = parts.map(Number);
  return octets.every((octet) => octet <= 255) ? octets : undefined;
}

function isLoopback(host: string): boolean {
  const v4 = ipv4(host);
  return (v4 !== undefined && v4[0] === 127) || host === "[::1]" || host === "localhost";
}

/** Private, link-local, shared (CGNAT), unspecified and multicast IPv4 ranges, and their IPv6 kin. */
function isInternalAddress(host: string): boolean {
  const v4 = ipv4(host);
  if (v4) {
    const [a, b] = v4;
    return a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224;
  }
  if (!host.startsWith("[")) return false;
  const v6 = host.slice(1, -1).toLowerCase();
  // Loopback, unspecified, unique-local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10), multicast
  // (ff00::/8), and IPv4 mapped, translated or compatible (::a.b.c.d, which the parser writes ::7f00:1).
  return (
    v6 === "::1" ||
    v6 === "::" ||
    /^f[cdf]/.test(v6) ||
    /^fe[89a-f]/.test(v6) ||
    v6.startsWith("::ffff:") ||
    /^64:ff9b:/.test(v6) ||
    /^::[0-9a-f]{1,4}(:[0-9a-f]{1,4})?$/.test(v6)
  );
}

/** Why a webhook may not be sent to `value`, or undefined when it may. */
export function webhookDestinationProblem(value: string, env: { ALERT_WEBHOOKS_TO_LOOPBACK?: string }): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "the URL does not parse";
  }
  if (url.username || url.password) return "the URL carries credentials; the webhook's secret signs each delivery instead";
  // The URL parser has already turned other spellings of an address (0x7f000001, 2130706433) into dotted form.
  // A name's trailing dots (`localhost.`, `metadata.google.internal.`) name the same host.
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
  if (env.ALERT_WEBHOOKS_TO_LOOPBACK === "on" && isLoopback(host) && (url.protocol === "http:" || url.protocol === "https:")) return undefined;
  if (url.protocol !== "https:") return "the URL is https://";
  if (isInternalAddress(host) || INTERNAL_NAMES.some((name) => name.test(host))) return `${host} is inside a network, not a public endpoint`;
  return undefined;
}

/** Refuses (400, naming `url`) a webhook that may not be sent where it points. */
export function assertWebhookDestination(value: string, env: { ALERT_WEBHOOKS_TO_LOOPBACK?: string }): void {
  const problem = webhookDestinationProblem(value, env);
  if (problem) throw new ApiError(400, "invalid_input", `url: ${problem}`, "url");
}

/**
 * @module network-hosts
 * Whether a host the edge is told to send requests to is inside a network
 * (loopback, private, link-local or carrier-grade NAT addresses, unique-local
 * IPv6, `localhost`, `*.internal`, `*.local`, `*.home.arpa`): an alert
 * webhook, an identity provider's jwks_uri and an upstream MCP server may
 * not point there, so none can make the edge probe services it can reach
 * and their owner cannot (answers and errors come back to the tenant). A
 * name is not resolved: one whose DNS points inside a network is the
 * platform's to refuse.
 */

const INTERNAL_NAMES = [/^localhost$/, /\.localhost$/, /\.internal$/, /\.local$/, /\.home\.arpa$/];

/** A URL's host as these checks read it: the URL parser has already turned other spellings of an address (0x7f000001, 2130706433) into dotted form, and a name's trailing dots (`localhost.`) name the same host. */
export const hostOf = (url: URL) => url.hostname.toLowerCase().replace(/\.+$/, "");

function ipv4(host: string): number[] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return undefined;
  const octets = parts.map(Number);
  return octets.every((octet) => octet <= 255) ? octets : undefined;
}

export function isLoopback(host: string): boolean {
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

/** Whether `host` (as hostOf gives it) is an address or a name inside a network. */
export function isInsideNetwork(host: string): boolean {
  return isInternalAddress(host) || INTERNAL_NAMES.some((name) => name.test(host));
}

/**
 * Why the edge may not send requests to `value` at a tenant's word, or
 * undefined when it may: a public https endpoint, with no credentials in the
 * URL; loopback (http or https) only when `loopbackAllowed` (local
 * development and tests, whose servers listen there).
 */
export function publicEndpointProblem(value: string, loopbackAllowed: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "the URL does not parse";
  }
  if (url.username || url.password) return "the URL carries credentials";
  const host = hostOf(url);
  if (loopbackAllowed && isLoopback(host) && (url.protocol === "http:" || url.protocol === "https:")) return undefined;
  if (url.protocol !== "https:") return "the URL is https://";
  if (isInsideNetwork(host)) return `${host} is inside a network, not a public endpoint`;
  return undefined;
}

/**
 * @module random
 * uuid.rfc4122, uuid.parse and rand.intn. OPA answers the same for the same
 * key within one query, so results are memoised in the evaluation's memo.
 */
import { BuiltinError, expectNumber, expectString, type Builtin, type BuiltinContext } from "./context";

/** google/uuid's Parse: 36 characters, or with "urn:uuid:", or 38 (any first and last character), or 32 hex digits. */
function uuidBytes(text: string): Uint8Array {
  let hex: string;
  if (text.length === 32) hex = text;
  else {
    let body = text;
    if (text.length === 45) {
      if (text.slice(0, 9).toLowerCase() !== "urn:uuid:") throw new BuiltinError("invalid urn prefix");
      body = text.slice(9);
    } else if (text.length === 38) body = text.slice(1, 37);
    else if (text.length !== 36) throw new BuiltinError("invalid UUID length");
    if (body[8] !== "-" || body[13] !== "-" || body[18] !== "-" || body[23] !== "-") throw new BuiltinError("invalid UUID format");
    hex = body.replace(/-/g, "");
  }
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new BuiltinError("invalid UUID format");
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

/** Gregorian (1582-10-15) to Unix epoch, in 100-nanosecond units. */
const GREGORIAN_OFFSET = 122192928000000000n;

/** What OPA reports of a UUID: version and variant, and for versions 1 and 2 the time, node, clock sequence (and DCE id and domain). */
function parseUuid(text: string): Record<string, unknown> {
  const b = uuidBytes(text);
  const version = b[6] >> 4;
  const variant = (b[8] & 0xc0) === 0x80 ? "RFC4122" : (b[8] & 0xe0) === 0xc0 ? "Microsoft" : (b[8] & 0xe0) === 0xe0 ? "Future" : "Reserved";
  const out: Record<string, unknown> = { version, variant };
  if (version === 1 || version === 2) {
    const word = (i: number, n: number) => [...b.slice(i, i + n)].reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
    const ticks = word(0, 4) | (word(4, 2) << 32n) | ((word(6, 2) & 0xfffn) << 48n);
    const sinceUnix = ticks - GREGORIAN_OFFSET;
    // Go's integer division truncates toward zero, for seconds and the remainder alike.
    const ns = (sinceUnix / 10_000_000n) * 1_000_000_000n + (sinceUnix % 10_000_000n) * 100n;
    out.time = ns >= BigInt(Number.MIN_SAFE_INTEGER) && ns <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ns) : ns;
    out.nodeid = [...b.slice(10)].map((x) => x.toString(16).padStart(2, "0")).join("-");
    const first = b[10];
    out.macvariables = (first & 3) === 3 ? "local:multicast" : (first & 1) === 1 ? "global:multicast" : (first & 2) === 2 ? "local:unicast" : "global:unicast";
    out.clocksequence = ((b[8] << 8) | b[9]) & 0x3fff;
    if (version === 2) {
      out.id = Number(word(0, 4));
      out.domain = ["Person", "Group", "Org"][b[9]] ?? `Domain${b[9]}`;
    }
  }
  return out;
}

export function randomBuiltins(context: BuiltinContext): Record<string, Builtin> {
  const memo = <T>(key: string, make: () => T): T => {
    if (!context.memo.has(key)) context.memo.set(key, make());
    return context.memo.get(key) as T;
  };
  return {
    "uuid.rfc4122": (key: unknown) => memo(`uuid:${expectString(key, "k")}`, () => crypto.randomUUID()),
    "uuid.parse": (value: unknown) => parseUuid(expectString(value, "uuid")),
    "rand.intn": (key: unknown, n: unknown) => {
      const limit = Math.abs(Math.trunc(expectNumber(n, "n")));
      return memo(`rand:${expectString(key, "str")}:${limit}`, () => {
        if (limit === 0) return 0;
        const buffer = new Uint32Array(1);
        crypto.getRandomValues(buffer);
        return buffer[0] % limit;
      });
    },
  };
}

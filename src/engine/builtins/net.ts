/**
 * @module net
 * CIDR builtins the wasm runtime leaves to the host (net.cidr_contains and
 * net.cidr_intersects are native). Addresses are handled as bigints so IPv4
 * and IPv6 share one code path.
 */
import { BuiltinError, expectString, type Builtin } from "./context";

interface Cidr {
  version: 4 | 6;
  base: bigint;
  prefix: number;
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || (text.match(/::/g) ?? []).length > 1) return undefined;
  let groups: string[];
  const [head, tail] = text.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const last = (tail !== undefined ? tailGroups : headGroups).at(-1);
  let v4tail: bigint | undefined;
  if (last?.includes(".")) {
    v4tail = parseIPv4(last);
    if (v4tail === undefined) return undefined;
    (tail !== undefined ? tailGroups : headGroups).splice(-1, 1, (v4tail >> 16n).toString(16), (v4tail & 0xffffn).toString(16));
  }
  if (tail !== undefined) {
    const missing = 8 - headGroups.length - tailGroups.length;
    if (missing < 1) return undefined;
    groups = [...headGroups, ...Array(missing).fill("0"), ...tailGroups];
  } else {
    groups = headGroups;
  }
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function parseCidr(text: string): Cidr {
  const [address, prefixText, extra] = text.split("/");
  if (extra !== undefined || prefixText === undefined || !/^\d{1,3}$/.test(prefixText)) {
    throw new BuiltinError(`invalid CIDR ${JSON.stringify(text)}`);
  }
  const prefix = Number(prefixText);
  const v4 = parseIPv4(address);
  if (v4 !== undefined && prefix <= 32) return { version: 4, base: v4 & mask(4, prefix), prefix };
  const v6 = v4 === undefined ? parseIPv6(address) : undefined;
  if (v6 !== undefined && prefix <= 128) return { version: 6, base: v6 & mask(6, prefix), prefix };
  throw new BuiltinError(`invalid CIDR ${JSON.stringify(text)}`);
}

function bits(version: 4 | 6): number {
  return version === 4 ? 32 : 128;
}

function mask(version: 4 | 6, prefix: number): bigint {
  const total = BigInt(bits(version));
  return ((1n << total) - 1n) ^ ((1n << (total - BigInt(prefix))) - 1n);
}

function formatAddress(version: 4 | 6, value: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (of two or more), as Go does.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLength).join(":")}`;
}

/** An IP or CIDR as a range, for containment checks. */
function asRange(text: string): Cidr {
  if (text.includes("/")) return parseCidr(text);
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { version: 4, base: v4, prefix: 32 };
  const v6 = parseIPv6(text);
  if (v6 !== undefined) return { version: 6, base: v6, prefix: 128 };
  throw new BuiltinError(`invalid IP or CIDR ${JSON.stringify(text)}`);
}

function contains(outer: Cidr, inner: Cidr): boolean {
  return outer.version === inner.version && inner.prefix >= outer.prefix && (inner.base & mask(outer.version, outer.prefix)) === outer.base;
}

/** Expanding a CIDR lists every address; bound it so a policy cannot ask for 2^64 strings. */
const MAX_EXPANSION = 65_536;

/** Items of a collection argument as [key, value] pairs, as cidr_contains_matches accepts them. */
function entries(value: unknown): Array<[unknown, string]> {
  if (typeof value === "string") return [[value, value]];
  if (value instanceof Set) return [...value].map((v) => [v, Array.isArray(v) ? expectString(v[0], "cidr") : expectString(v, "cidr")]);
  if (Array.isArray(value)) return value.map((v, i) => [i, Array.isArray(v) ? expectString(v[0], "cidr") : expectString(v, "cidr")]);
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => [k, Array.isArray(v) ? expectString(v[0], "cidr") : expectString(v, "cidr")]);
  }
  throw new BuiltinError("expected a string, array, set or object of CIDRs");
}

export const netBuiltins: Record<string, Builtin> = {
  "net.cidr_is_valid": (value: unknown) => {
    try {
      parseCidr(expectString(value, "cidr"));
      return true;
    } catch {
      return false;
    }
  },
  "net.cidr_expand": (value: unknown) => {
    const cidr = parseCidr(expectString(value, "cidr"));
    const size = 1n << BigInt(bits(cidr.version) - cidr.prefix);
    if (size > BigInt(MAX_EXPANSION)) throw new BuiltinError(`refusing to expand ${size} addresses`);
    return Array.from({ length: Number(size) }, (_, i) => formatAddress(cidr.version, cidr.base + BigInt(i))).sort();
  },
  "net.cidr_contains_matches": (cidrs: unknown, candidates: unknown) => {
    const matches: unknown[][] = [];
    for (const [outerKey, outerText] of entries(cidrs)) {
      const outer = parseCidr(outerText);
      for (const [innerKey, innerText] of entries(candidates)) {
        if (contains(outer, asRange(innerText))) matches.push([outerKey, innerKey]);
      }
    }
    return matches;
  },
};

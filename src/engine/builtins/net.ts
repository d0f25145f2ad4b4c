/**
 * @module net
 * CIDR builtins the wasm runtime leaves to the host (net.cidr_contains and
 * net.cidr_intersects are native). Addresses are handled as bigints so IPv4
 * and IPv6 share one code path. net.cidr_merge follows OPA (after netaddr):
 * ranges sorted by last then first address, overlapping or adjacent ones
 * joined and cut back into the fewest CIDRs; a bare IPv4 address stands for
 * its classful network, as Go's DefaultMask has it.
 */
import { BuiltinError, expectString, type Builtin } from "./context";

interface Cidr {
  version: 4 | 6;
  base: bigint;
  prefix: number;
}

export function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  // Go's parser refuses leading zeros ("01"), which some read as octal.
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

export function parseIPv6(text: string): bigint | undefined {
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

/** IPv4 lives in the IPv4-mapped IPv6 range when ranges of both families are merged, as in Go. */
const V4_MAPPED = 0xffffn << 32n;

interface Range {
  first: bigint;
  last: bigint;
  /** The network as given, while the range is not merged with another. */
  text?: string;
}

function mergeInput(text: string): Range {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) {
    const octet = Number(v4 >> 24n);
    const prefix = octet < 128 ? 8 : octet < 192 ? 16 : 24;
    const base = v4 & mask(4, prefix);
    return { first: V4_MAPPED | base, last: V4_MAPPED | base | ~mask(4, prefix) & 0xffffffffn, text: `${text}/${prefix}` };
  }
  if (!text.includes("/")) throw new BuiltinError("IPv6 invalid: needs prefix length");
  const cidr = parseCidr(text);
  const span = (1n << BigInt(bits(cidr.version) - cidr.prefix)) - 1n;
  const offset = cidr.version === 4 ? V4_MAPPED : 0n;
  return { first: offset | cidr.base, last: offset | cidr.base | span, text: `${formatAddress(cidr.version, cidr.base)}/${cidr.prefix}` };
}

/** The fewest CIDRs covering [first, last] exactly. */
function rangeToCidrs(first: bigint, last: bigint): string[] {
  const v4 = first >> 32n === 0xffffn && last >> 32n === 0xffffn;
  const width = v4 ? 32 : 128;
  let start = v4 ? first & 0xffffffffn : first;
  const end = v4 ? last & 0xffffffffn : last;
  const out: string[] = [];
  while (start <= end) {
    let size = 0;
    while (size < width && (start & ((1n << BigInt(size + 1)) - 1n)) === 0n && start + (1n << BigInt(size + 1)) - 1n <= end) size++;
    out.push(`${formatAddress(v4 ? 4 : 6, start)}/${width - size}`);
    start += 1n << BigInt(size);
  }
  return out;
}

function mergeCidrs(texts: string[]): Set<string> {
  const ranges = texts.map(mergeInput).sort((a, b) => (a.last !== b.last ? (a.last < b.last ? -1 : 1) : a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  for (let i = ranges.length - 1; i > 0; i--) {
    const previous = ranges[i].first === 0n || ranges[i].first === V4_MAPPED ? ranges[i].first : ranges[i].first - 1n;
    if (previous <= ranges[i - 1].last) {
      ranges[i - 1] = { first: ranges[i - 1].first < ranges[i].first ? ranges[i - 1].first : ranges[i].first, last: ranges[i].last };
      ranges.splice(i, 1);
    }
  }
  return new Set(ranges.flatMap((range) => (range.text ? [range.text] : rangeToCidrs(range.first, range.last))));
}

export const netBuiltins: Record<string, Builtin> = {
  "net.cidr_merge": (addresses: unknown) => {
    if (!Array.isArray(addresses) && !(addresses instanceof Set)) throw new BuiltinError("operand must be an array");
    return mergeCidrs([...addresses].map((address) => expectString(address, "element")));
  },
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
    const matches = new Set<unknown[]>();
    for (const [outerKey, outerText] of entries(cidrs)) {
      const outer = parseCidr(outerText);
      for (const [innerKey, innerText] of entries(candidates)) {
        if (contains(outer, asRange(innerText))) matches.add([outerKey, innerKey]);
      }
    }
    return matches;
  },
};

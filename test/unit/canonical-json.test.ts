/**
 * Canonical JSON is what receipts, session action hashes, bundle digests and
 * the audit chain hash: the edge and the agent SDK must write the same text
 * for the same value, whatever order its keys came in, and the same text as
 * the format's first implementation, which earlier receipts and digests were
 * made with. Checked against that implementation over generated values.
 */
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../packages/agent/src/canonical-json";

/** The format as it was first written (entries, filter, sort, map, join): receipts and digests made with it must still verify. */
function reference(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(",")}}`;
}

/** A small deterministic generator, so a failure names the value that broke. */
function* values(seed: number, count: number): Generator<unknown> {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const keys = ["a", "B", "z", "é", "\u{1F600}", "\uFF21", "10", "9", "", "a b", "\"q\"", "ab", "aa"];
  const make = (depth: number): unknown => {
    const pick = next();
    if (depth > 3 || pick < 0.3) return [null, true, false, 0, -1.5, 1e21, "x", "line\nbreak", "\u2028", "é"][Math.floor(next() * 10)];
    if (pick < 0.6) return Array.from({ length: Math.floor(next() * 4) }, () => make(depth + 1));
    const object: Record<string, unknown> = {};
    for (let i = Math.floor(next() * 5); i > 0; i--) object[keys[Math.floor(next() * keys.length)]] = next() < 0.15 ? undefined : make(depth + 1);
    return object;
  };
  for (let i = 0; i < count; i++) yield make(0);
}

describe("canonicalJson", () => {
  it("writes every value as the format's first implementation did (keys sorted, undefined members left out)", () => {
    for (const value of values(7, 3_000)) expect(canonicalJson(value)).toBe(reference(value));
    // Also an array holding undefined, which only a program (never JSON) can make.
    expect(canonicalJson([1, undefined, { a: undefined, b: [undefined] }])).toBe(reference([1, undefined, { a: undefined, b: [undefined] }]));
  });

  it("does not depend on the order keys were added in", () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it("orders keys by UTF-16 code units, integer-like ones too", () => {
    expect(canonicalJson({ "\uFF21": 1, "\u{1F600}": 2, é: 3, Z: 4, a: 5 })).toBe('{"Z":4,"a":5,"é":3,"\u{1F600}":2,"\uFF21":1}');
    expect(canonicalJson({ 9: "nine", 10: "ten", a: 1 })).toBe('{"10":"ten","9":"nine","a":1}');
  });
});

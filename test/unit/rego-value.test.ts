/**
 * Reading values from OPA's text: plain JSON takes the runtime's own parser,
 * anything else the reader. Both must give the same value, numbers exact, so
 * each generated text is read both ways: as it is (the fast path when it is
 * JSON) and inside a set literal, which JSON.parse refuses and so only the
 * reader reads.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isRawNumber, readRegoValue } from "../../src/engine/rego-value";

/** A value written out with its types (a raw number, a bigint, -0, a set, a map, a prototype), key order kept. */
function typed(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return Object.is(value, -0) ? "number:-0" : `number:${value}`;
  if (typeof value === "bigint") return `bigint:${value}`;
  if (isRawNumber(value)) return `raw:${value.rawJSON}`;
  if (Array.isArray(value)) return `[${value.map(typed).join(",")}]`;
  if (value instanceof Set) return `set{${[...value].map(typed).join(",")}}`;
  if (value instanceof Map) return `map{${[...value].map(([k, v]) => `${typed(k)}:${typed(v)}`).join(",")}}`;
  const prototype = Object.getPrototypeOf(value) === Object.prototype ? "" : "!prototype";
  return `${prototype}{${Object.entries(value as object).map(([k, v]) => `${JSON.stringify(k)}:${typed(v)}`).join(",")}}`;
}

/** Numbers as OPA may print them: small and large integers, fractions, exponents, digits past a double's precision. */
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.tuple(fc.integer({ min: -999, max: 999 }), fc.stringMatching(/^\d{1,25}$/)).map(([whole, fraction]) => `${whole}.${fraction}`),
  fc.tuple(fc.integer({ min: -99, max: 99 }), fc.integer({ min: -400, max: 400 })).map(([mantissa, exponent]) => `${mantissa}e${exponent}`),
  fc.constantFrom("1.0", "-0", "0.1000000000000000055511151231257827", "9007199254740993", "1E3"),
);

const key = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("__proto__", "constructor", "1", "0.5e3"));

/** JSON texts whose numbers are written as OPA would, not as JSON.stringify would. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    numberText,
    fc.string({ maxLength: 12 }).map((text) => JSON.stringify(text)),
    fc.constantFrom("null", "true", "false"),
    fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(", ")}]`),
    fc.array(fc.tuple(key, tie("value")), { maxLength: 4 }).map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(", ")}}`),
  ),
})).value;

describe("reading OPA's values", () => {
  for (const shape of ["json", "values"] as const) {
    it(`gives the same value by the runtime's parser as by the reader (${shape} shape)`, () => {
      fc.assert(
        fc.property(jsonText, (text) => {
          const fast = readRegoValue(text, { shape });
          // An array inside the set, so the set (which makes -0 into 0) never holds the value itself.
          const read = readRegoValue(`{[${text}]}`, { shape });
          const [[only]] = (shape === "values" ? [...(read as Set<unknown>)] : read) as unknown[][];
          expect(typed(fast)).toBe(typed(only));
          if (shape === "json") expect(JSON.stringify(fast)).toBe(JSON.stringify(only));
        }),
        { numRuns: 2000 },
      );
    });
  }

  it("keeps what a double cannot hold, on either path", () => {
    const text = '{"n": 11529215046068469760, "f": 0.1000000000000000055511151231257827, "note": "costs 1.5"}';
    expect(JSON.stringify(readRegoValue(text, { shape: "json" }))).toBe('{"n":11529215046068469760,"f":0.1000000000000000055511151231257827,"note":"costs 1.5"}');
  });

  it("reads a key named __proto__ as a key, not as the object's prototype", () => {
    const value = readRegoValue('{"__proto__": {"polluted": true}}', { shape: "json" }) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

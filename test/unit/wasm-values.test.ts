/**
 * Host builtins' scalar arguments and results read and written straight in
 * OPA's wasm memory (src/engine/wasm-values.ts), on the build's own global
 * policy: whatever OPA parsed reads as its dump reads, types and exact
 * numbers kept; whatever is written dumps as its text would have parsed;
 * what the module does not cover goes to the text path; and an instance
 * whose layout is not the one read is caught by the probe.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BASELINE_LAYER } from "../../src/bundles/baseline";
import { isRawNumber, readRegoValue, writeRegoValue } from "../../src/engine/rego-value";
import { probeWasmValues, TEXT_PATH, WasmValues, type WasmAllocator } from "../../src/engine/wasm-values";

interface Instance {
  exports: WasmAllocator & {
    opa_value_parse(addr: number, length: number): number;
    opa_value_dump(addr: number): number;
    opa_heap_ptr_get(): number;
    opa_heap_ptr_set(addr: number): void;
  };
  memory: WebAssembly.Memory;
  values: WasmValues;
}

/** The global policy's module, instantiated bare: only OPA's parser, writer and allocator are used. */
async function instantiate(): Promise<Instance> {
  const memory = new WebAssembly.Memory({ initial: 5, maximum: 1024 });
  const unused = () => {
    throw new Error("not called by these tests");
  };
  const env = { memory, opa_abort: unused, opa_println: unused, opa_builtin0: unused, opa_builtin1: unused, opa_builtin2: unused, opa_builtin3: unused, opa_builtin4: unused };
  const instance = await WebAssembly.instantiate(BASELINE_LAYER.wasm as WebAssembly.Module, { env });
  const exports = instance.exports as unknown as Instance["exports"];
  return { exports, memory, values: new WasmValues(memory, exports) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parse({ exports, memory }: Instance, text: string): number {
  const bytes = encoder.encode(text);
  const addr = exports.opa_malloc(bytes.length);
  new Uint8Array(memory.buffer).set(bytes, addr);
  const value = exports.opa_value_parse(addr, bytes.length);
  expect(value, text).not.toBe(0);
  return value;
}

function dump({ exports, memory }: Instance, addr: number): string {
  const at = exports.opa_value_dump(addr);
  const bytes = new Uint8Array(memory.buffer);
  return decoder.decode(bytes.subarray(at, bytes.indexOf(0, at)));
}

/** The text path over an instance, as the probe is given it. */
const textPath = (instance: Instance) => ({ parse: (text: string) => parse(instance, text), dump: (addr: number) => dump(instance, addr) });

/** A value written out with its types, so 1 and 1n and a raw "1.0" differ. */
function typed(value: unknown): string {
  if (typeof value === "bigint") return `bigint:${value}`;
  if (typeof value === "number") return Object.is(value, -0) ? "number:-0" : `number:${value}`;
  if (isRawNumber(value)) return `raw:${value.rawJSON}`;
  if (Array.isArray(value)) return `[${value.map(typed).join(",")}]`;
  return JSON.stringify(value);
}

/** Numbers as a builtin's argument may hold them: integers of any size, fractions, exponents. */
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.tuple(fc.integer({ min: -999, max: 999 }), fc.stringMatching(/^\d{1,20}$/)).map(([whole, fraction]) => `${whole}.${fraction}`),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: -30, max: 30 })).map(([digit, exponent]) => `${digit}e${exponent}`),
);
const scalarText = fc.oneof(numberText, fc.string({ unit: "binary", maxLength: 40 }).map((s) => JSON.stringify(s)), fc.constantFrom("null", "true", "false"));
const arrayText = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, scalarText, tie("array")),
  array: fc.array(tie("value"), { maxLength: 5 }).map((items) => `[${(items as string[]).join(",")}]`),
})).value as fc.Arbitrary<string>;

let instance: Instance;
beforeAll(async () => {
  instance = await instantiate();
});

describe("builtin values through wasm memory", () => {
  it("passes its probe on the build's policy", () => {
    expect(probeWasmValues(textPath(instance), instance.values)).toBe(true);
  });

  it("reads scalars and arrays of them as their dump reads, types and numbers exact", () => {
    fc.assert(
      fc.property(arrayText, (text) => {
        const mark = instance.exports.opa_heap_ptr_get();
        const addr = parse(instance, text);
        const direct = instance.values.read(addr);
        const viaText = readRegoValue(dump(instance, addr), { shape: "values" });
        instance.exports.opa_heap_ptr_set(mark);
        // Nested more than four deep: the text path's, by design.
        if (direct === TEXT_PATH) return;
        expect(typed(direct)).toBe(typed(viaText));
      }),
      { numRuns: 500 },
    );
  });

  it("writes scalars that dump as their text and read back as they were", () => {
    const scalar = fc.oneof(
      fc.string({ unit: "binary", maxLength: 80 }),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
    );
    fc.assert(
      fc.property(scalar, (value) => {
        const mark = instance.exports.opa_heap_ptr_get();
        const addr = instance.values.write(value);
        expect(addr).not.toBe(TEXT_PATH);
        // The same value as the text path's (OPA's writer may escape a character JSON.stringify does not).
        const expected = typed(readRegoValue(writeRegoValue(value), { shape: "values" }));
        expect(typed(readRegoValue(dump(instance, addr as number), { shape: "values" }))).toBe(expected);
        expect(typed(instance.values.read(addr as number))).toBe(expected);
        instance.exports.opa_heap_ptr_set(mark);
      }),
      { numRuns: 500 },
    );
  });

  it("leaves objects, sets, deep arrays and what is not a scalar to the text path", () => {
    for (const text of ['{"a": 1}', "{1, 2}", "set()", '[1, {"a": 1}]', "[[[[[1]]]]]"]) {
      expect(instance.values.read(parse(instance, text)), text).toBe(TEXT_PATH);
    }
    for (const value of [null, {}, [], new Set([1]), Number.NaN, Number.POSITIVE_INFINITY, "lone \ud800 surrogate", "\udc00"]) {
      expect(instance.values.write(value), String(value)).toBe(TEXT_PATH);
    }
  });

  it("fails its probe where the layout is not the one it reads", async () => {
    // The same reader over another instance's memory: every address it reads holds something else.
    const other = await instantiate();
    const stranger = new WasmValues(other.memory, other.exports);
    parse(other, '"shifts the other heap"');
    expect(probeWasmValues(textPath(instance), stranger)).toBe(false);
  });
});

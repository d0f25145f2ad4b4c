/**
 * The build's shortcuts through OPA's runtime, on OPA's real output: the
 * iteration cursor (scripts/lib/wasm-iteration-cursor.ts), integer
 * arithmetic (wasm-integer-arithmetic.ts), the interned strings' hashes
 * (wasm-interned-hashes.ts) and the word-at-a-time string comparison
 * (wasm-string-compare.ts). Each must answer exactly as `opa eval` does: a
 * policy that steps through objects and sets every way a rule can, adds
 * and subtracts at the edges of 32 bits, looks up more constant keys than
 * the hash table has slots, and sorts and matches strings that share long
 * prefixes, is compiled by the build and evaluated by
 * the edge's evaluator over many inputs, several times over in changing
 * orders (so cursors and cached hashes meet reused memory and heap resets),
 * against `opa eval` of the same inputs. A module that is not OPA's runtime
 * as the rewrites know it is refused.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { opaBuildWasm, opaEvalMany } from "../../scripts/lib/opa.ts";
import { OpaWasmRewriteError } from "../../scripts/lib/opa-wasm-rewrite-error.ts";
import { integerArithmetic } from "../../scripts/lib/wasm-integer-arithmetic.ts";
import { internedHashes } from "../../scripts/lib/wasm-interned-hashes.ts";
import { iterationCursor } from "../../scripts/lib/wasm-iteration-cursor.ts";
import { wordStringCompare } from "../../scripts/lib/wasm-string-compare.ts";
import { canonicalJson } from "../../src/engine/rego-value.ts";
import { loadEvaluator, type NodeEvaluator } from "../fixtures/node-evaluator.ts";
import { binaryenText, callsOf } from "../fixtures/wasm-calls.ts";

const FIXTURE = "test/fixtures/runtime-shortcuts";
const ENTRYPOINT = "shortcuts/answer";
/** More constant keys than wasm-interned-hashes.ts has slots (512), so slots are shared and overwritten. */
const CONSTANT_KEYS = 700;

/** Rules that look up each of CONSTANT_KEYS constant strings, written beside the fixture's. */
function constantsModule(): string {
  const keys = Array.from({ length: CONSTANT_KEYS }, (_, i) => `"key-${i}"`);
  return [
    "package shortcuts",
    "",
    `constants := {k: v | some k in [${keys.join(", ")}]; v := input.table[k]}`,
    "",
    `first := object.get(input.table, "key-0", null)`,
    "",
    `last := object.get(input.table, "key-${CONSTANT_KEYS - 1}", null)`,
    "",
  ].join("\n");
}

/** A deterministic generator, so a failure names an input that comes back on the next run. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
}

/** Numbers at the edges of the integer path, as JSON text: 32-bit bounds, a negative zero, fractions, exponents, more digits than fit. */
const NUMBER_TEXTS = ["0", "-0", "1", "-1", "7", "2147483647", "2147483646", "-2147483648", "-2147483647", "1.5", "-0.5", "1e2", "1.0", "10", "999999999", "9999999999", "-999999999", "10000000000", "123456789012345678901", "0.1"];

/**
 * Whether `opa eval` and OPA's wasm agree on a + b and a - b whatever the
 * build does: Go's OPA adds an integer of more than 15 digits and a
 * fraction in binary floating point (123456789012345678901 + 1.5 is
 * 123456789012345678904 there), its wasm runtime in exact decimals. That
 * difference is OPA's own, so such pairs are left out.
 */
function opaAgrees(a: string, b: string): boolean {
  const huge = (text: string) => /\d{16}/.test(text);
  const fraction = (text: string) => /[.eE]/.test(text);
  return !((huge(a) && fraction(b)) || (huge(b) && fraction(a)));
}

function inputTexts(): string[] {
  const random = generator(20261129);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const key = () => pick(["a", "b", "c", "d", "e", "f", "g", "h", "key-1", "key-512", "key-699", "x y", "é"]);
  const scalar = (): string => pick([() => pick(NUMBER_TEXTS), () => JSON.stringify(key()), () => "true", () => "null"])();
  // Strings that differ at every position around an eight-byte word, or are prefixes of each other.
  const stem = "0123456789abcdefghij-é-0123456789";
  const longString = () => {
    const cut = Math.floor(random() * stem.length);
    const end = cut + Math.floor(random() * 3);
    return stem.slice(0, cut) + pick(["", "0", "z", "é", "\u0000", "~"]) + stem.slice(end, end + Math.floor(random() * 10));
  };
  const object = (size: number, value: () => string) => `{${Array.from({ length: size }, () => `${JSON.stringify(key())}:${value()}`).join(",")}}`;
  const texts: string[] = [];
  for (let i = 0; i < 60; i++) {
    const size = Math.floor(random() * 12);
    const table = object(Math.floor(random() * 40), scalar);
    const fields = [
      `"obj":${object(size, scalar)}`,
      `"other":${object(Math.floor(random() * 6), scalar)}`,
      `"nested":${object(Math.floor(random() * 5), () => (random() < 0.8 ? object(Math.floor(random() * 6), scalar) : scalar()))}`,
      `"lists":[${Array.from({ length: Math.floor(random() * 4) }, () => `[${Array.from({ length: Math.floor(random() * 5) }, scalar).join(",")}]`).join(",")}]`,
      `"pairs":[${Array.from({ length: Math.floor(random() * 8) }, () => [pick(NUMBER_TEXTS), pick(NUMBER_TEXTS)])
        .filter(([a, b]) => opaAgrees(a, b))
        .map(([a, b]) => `[${a},${b}]`)
        .join(",")}]`,
      // Offsets are added to a count: small integers, so any of them.
      `"offsets":[${pick(NUMBER_TEXTS)},${pick(NUMBER_TEXTS)}]`,
      `"table":${table}`,
      `"strings":[${Array.from({ length: Math.floor(random() * 12) }, () => JSON.stringify(longString())).join(",")}]`,
      `"by_name":{${Array.from({ length: Math.floor(random() * 12) }, () => `${JSON.stringify(longString())}:true`).join(",")}}`,
    ];
    texts.push(`{${fields.filter(() => random() < 0.9).join(",")}}`);
  }
  // Every edge pair, once each way.
  const edges = NUMBER_TEXTS.flatMap((a) => NUMBER_TEXTS.filter((b) => opaAgrees(a, b)).map((b) => `[${a},${b}]`));
  texts.push(`{"pairs":[${edges.join(",")}],"offsets":[${NUMBER_TEXTS.join(",")}]}`);
  // Many keys in one object: buckets with chains, and a grown table.
  texts.push(`{"obj":{${Array.from({ length: 300 }, (_, i) => `"k${i}":${i % 7}`).join(",")}},"other":{"k3":3,"k5":5,"k299":5}}`);
  return texts;
}

let work: string;
let evaluator: NodeEvaluator;
let inputs: string[];
let expected: string[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "tollgate-shortcuts-"));
  cpSync(FIXTURE, work, { recursive: true });
  writeFileSync(join(work, "constants.rego"), constantsModule());
  const { wasm, dataText } = await opaBuildWasm(work, ENTRYPOINT);
  evaluator = await loadEvaluator(await WebAssembly.compile(new Uint8Array(wasm)), dataText, ENTRYPOINT);
  inputs = inputTexts();
  expected = opaEvalMany(work, ENTRYPOINT, [], { inputsJson: inputs, exact: true }).map(canonicalJson);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the build's shortcuts through OPA's runtime", () => {
  it("answer as `opa eval` does, input by input, over several passes in changing orders", () => {
    for (let pass = 0; pass < 4; pass++) {
      for (let n = 0; n < inputs.length; n++) {
        const i = (n * (pass * 2 + 1) + pass * 7) % inputs.length;
        expect(canonicalJson(evaluator.evaluate(inputs[i], 0).result), `pass ${pass}, input ${i}: ${inputs[i].slice(0, 200)}`).toBe(expected[i]);
      }
    }
  });

  it("cover what they claim to: the edge pairs add, subtract and count past 32 bits as OPA does", () => {
    const edges = inputs.findIndex((text) => text.startsWith('{"pairs":[[0,0]'));
    const answer = evaluator.evaluate(inputs[edges], 0).result as { sums: unknown[]; differences: unknown[]; counted: unknown[] };
    // 2147483647 + 1 leaves 32 bits, -2147483648 - 1 too; both come back exact.
    expect(canonicalJson(answer.sums)).toContain("2147483648e0");
    expect(canonicalJson(answer.differences)).toContain("-2147483649e0");
    expect(answer.sums).toHaveLength(NUMBER_TEXTS.flatMap((a) => NUMBER_TEXTS.filter((b) => opaAgrees(a, b))).length);
    expect(canonicalJson(answer)).toBe(expected[edges]);
  });

  it("are in every policy the build compiles", async () => {
    const { wasm } = await opaBuildWasm("policies/global", "tollgate/decision");
    // Functions only the rewrites add, each called from the shortcut that kept its OPA function's name.
    expect(callsOf(wasm, "opa_value_iter")).toContain("tollgate_cursor_find");
    expect(callsOf(wasm, "opa_value_get")).toContain("tollgate_cursor_find");
    expect(callsOf(wasm, "opa_arith_plus")).toContain("tollgate_small_int");
    expect(callsOf(wasm, "opa_value_hash")).toContain("tollgate_value_hash_computed");
    // The word loop: its eight-byte loads are the only ones in a string comparison.
    expect(binaryenText(wasm, "opa_strncmp")).toContain("i64.load");
  });
});

describe("the shortcuts' rewrites", () => {
  const module = (build: (module: binaryen.Module) => void) => {
    const built = new binaryen.Module();
    build(built);
    return built;
  };

  it("refuse a module without OPA's functions", () => {
    const empty = () => module(() => {});
    expect(() => iterationCursor(empty())).toThrow(OpaWasmRewriteError);
    expect(() => internedHashes(empty())).toThrow(/no opa_value_hash/);
    // A policy without arithmetic or string comparison has none to rewrite.
    expect(() => integerArithmetic(empty())).not.toThrow();
    expect(() => wordStringCompare(empty())).not.toThrow();
  });

  it("refuse OPA's functions with another signature", () => {
    const i32 = binaryen.i32;
    const wrongIter = module((built) => {
      built.addFunction("opa_value_iter", i32, i32, [], built.local.get(0, i32));
      built.addFunction("opa_value_get", binaryen.createType([i32, i32]), i32, [], built.local.get(0, i32));
      built.addFunction("opa_value_hash", i32, i32, [], built.local.get(0, i32));
    });
    expect(() => iterationCursor(wrongIter)).toThrow(/opa_value_iter does not have the signature/);
    const wrongHash = module((built) => built.addFunction("opa_value_hash", binaryen.i64, i32, [], built.i32.const(0)));
    expect(() => internedHashes(wrongHash)).toThrow(/opa_value_hash does not have the signature/);
    const noInt = module((built) => built.addFunction("opa_arith_plus", binaryen.createType([i32, i32]), i32, [], built.local.get(0, i32)));
    expect(() => integerArithmetic(noInt)).toThrow(/no opa_number_int/);
    const wrongCompare = module((built) => built.addFunction("opa_strncmp", binaryen.createType([i32, i32]), i32, [], built.i32.const(0)));
    expect(() => wordStringCompare(wrongCompare)).toThrow(/opa_strncmp does not have the signature/);
  });
});

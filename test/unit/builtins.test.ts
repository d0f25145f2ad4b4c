/**
 * Every builtin the edge implements against the real OPA: the same calls,
 * compiled to wasm and run through the edge's sandbox, must give what
 * `opa eval` gave (expected values come from test/setup/20-builtin-expectations.ts),
 * numbers compared exactly.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { hostBuiltinNames } from "../../src/engine/builtins";
import { PRINT_MAX_LINES, PRINT_TRUNCATED_MARK, PrintLog } from "../../src/engine/builtins/print";
import { canonicalJson, readRegoValue } from "../../src/engine/rego-value";
import { SandboxClient } from "../../src/engine/sandbox-client";
import type { EdgeRuntimeInfo } from "../../src/engine/sandbox-protocol";

const { seed, groups, print, runtime } = inject("builtinCases");
const HOST_BUILTINS = await hostBuiltinNames();
const CLOCK_CASE = "clock: time.now_ns";
/** The edge's clock for the run: now, so certificates made for this run are valid at the edge as in OPA. */
const EDGE_NOW_MS = Date.now();
/** Builtins whose answers are not OPA's to compare: the edge's clock, randomness, the edge's runtime, and print (compared apart). */
const NOT_DIFFERENTIAL = new Set(["time.now_ns", "rand.intn", "uuid.rfc4122", "opa.runtime", "internal.print"]);
const MIN_CASES_PER_BUILTIN = 5;

const decode = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

async function runInSandbox(key: string, wasmBase64: string, entrypoint: string, inputJson: string, runtime?: EdgeRuntimeInfo) {
  const client = new SandboxClient(env.LOADER);
  const wasm = decode(wasmBase64);
  // Hundreds of builtin calls in one evaluation: far more than a decision, so a budget to match.
  const answer = await client.decide(key, () => [{ scope: "test", entrypoint, wasm, data: {} }], inputJson, EDGE_NOW_MS, runtime, undefined, 60_000);
  const [layer] = answer.layers;
  if (layer.error) throw new Error(`${layer.error.code}: ${layer.error.message}`);
  return layer;
}

const actual = new Map<string, Record<string, unknown>>();

beforeAll(async () => {
  for (const group of groups) {
    const layer = await runInSandbox(`builtin-cases:${group.label}`, group.wasmBase64, group.entrypoint, group.inputJson);
    actual.set(group.label, layer.result as Record<string, unknown>);
  }
});

describe(`builtins match opa eval (fast-check seed ${seed})`, () => {
  it("cover every deterministic host builtin with several cases", () => {
    const counts = new Map<string, number>();
    for (const group of groups) for (const c of group.cases) counts.set(c.call, (counts.get(c.call) ?? 0) + 1);
    const thin = HOST_BUILTINS.filter((name) => !NOT_DIFFERENTIAL.has(name) && (counts.get(name) ?? 0) < MIN_CASES_PER_BUILTIN);
    expect(thin).toEqual([]);
  });

  it("include, for every builtin, calls that OPA answers (not only errors)", () => {
    const answered = new Set(groups.flatMap((group) => group.cases.filter((c) => c.name in group.expected).map((c) => c.call)));
    expect(HOST_BUILTINS.filter((name) => !NOT_DIFFERENTIAL.has(name) && !answered.has(name))).toEqual([]);
  });

  for (const group of groups) {
    describe(group.label, () => {
      it("leave undefined exactly the calls opa leaves undefined", () => {
        const { [CLOCK_CASE]: _edge, ...edge } = actual.get(group.label)!;
        const { [CLOCK_CASE]: _opa, ...opa } = group.expected;
        expect(Object.keys(edge).sort()).toEqual(Object.keys(opa).sort());
      });

      const named = [...group.cases.map((c) => c.name), ...Object.keys(group.expected).filter((name) => name !== CLOCK_CASE && !group.cases.some((c) => c.name === name))];
      it.each(named)("%s", (name) => {
        const results = actual.get(group.label)!;
        expect(name in results ? canonicalJson(results[name]) : undefined).toEqual(group.expected[name]);
      });
    });
  }

  it("take time.now_ns from the edge's clock, exactly, in nanoseconds", () => {
    const results = actual.get(groups[0].label)!;
    expect(canonicalJson(results[CLOCK_CASE])).toBe(canonicalJson(BigInt(EDGE_NOW_MS) * 1_000_000n));
  });
});

describe("opa.runtime()", () => {
  it("tells the policy the edge's OPA version, location, region and the bundles deciding, and nothing of its environment", async () => {
    const edge = { location: "FRA", region: "eu", bundles: { global: { digest: "sha256:abc", version: 7 } } };
    const layer = await runInSandbox("builtin-runtime", runtime.wasmBase64, runtime.entrypoint, "{}", edge);
    expect(layer.result).toEqual({ version: "1.22.2", ...edge });
  });

  it("says only its version and no bundles when the caller tells it nothing", async () => {
    const layer = await runInSandbox("builtin-runtime", runtime.wasmBase64, runtime.entrypoint, "{}");
    expect(layer.result).toEqual({ version: "1.22.2", bundles: {} });
  });
});

describe("print()", () => {
  it("writes the lines opa eval writes, into the layer's outcome", async () => {
    const layer = await runInSandbox("builtin-print", print.wasmBase64, print.entrypoint, print.inputJson);
    expect(layer.result).toBe(true);
    expect(layer.print).toEqual(print.lines);
  });

  it("keeps at most a bounded number of lines and marks what it dropped", () => {
    const log = new PrintLog();
    for (let i = 0; i < PRINT_MAX_LINES + 10; i++) log.add(`line ${i}`);
    log.add("x".repeat(5000));
    const lines = log.lines();
    expect(lines).toHaveLength(PRINT_MAX_LINES + 1);
    expect(lines.at(-1)).toBe(`${PRINT_TRUNCATED_MARK} 11 more line(s) dropped`);
  });
});

describe("exact values", () => {
  it("read large integers exactly, and decimals a double holds as plain numbers", () => {
    const decision = readRegoValue('{"n": 11529215046068469760, "f": 3.0, "g": 1e3, "h": 0.1, "s": {1, 2}}', { shape: "json" }) as Record<string, unknown>;
    expect(JSON.stringify(decision)).toBe('{"n":11529215046068469760,"f":3,"g":1000,"h":0.1,"s":[1,2]}');
    expect(typeof decision.f).toBe("number");
  });

  it("keep for builtins the spelling of a number written as a float, which sprintf formats as a float", () => {
    const [value] = readRegoValue("[1.0]", { shape: "values" }) as unknown[];
    expect(JSON.stringify(value)).toBe("1.0");
  });
});

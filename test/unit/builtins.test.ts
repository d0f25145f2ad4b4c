/**
 * Our TypeScript builtins against the real OPA: the same calls, compiled to
 * wasm and run through the edge's sandbox, must give what `opa eval` gave
 * (expected values come from test/setup/20-builtin-expectations.ts).
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { HOST_BUILTINS } from "../../src/engine/builtins";
import { canonicalJson } from "../../src/engine/rego-value";
import { SandboxClient } from "../../src/engine/sandbox-client";

const { cases, input, expected, wasmBase64, entrypoint } = inject("builtinCases");
const wasm = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
let actual: Record<string, unknown>;
let clock: unknown;
const CLOCK_CASE = "clock: time.now_ns";
const EDGE_NOW_MS = 1_795_400_130_123;

async function runInSandbox(policyInput: unknown, nowMs: number, key: string) {
  const client = new SandboxClient(env.LOADER);
  const answer = await client.decide(key, () => [{ scope: "test", entrypoint, wasm, data: {} }], JSON.stringify(policyInput), nowMs);
  const [layer] = answer.layers;
  if (layer.error) throw new Error(`${layer.error.code}: ${layer.error.message}`);
  return layer.result as Record<string, unknown>;
}

beforeAll(async () => {
  const { [CLOCK_CASE]: now, ...rest } = await runInSandbox(input, EDGE_NOW_MS, "builtin-cases");
  actual = rest;
  clock = now;
});

describe("host builtins match opa eval", () => {
  it("cover the builtins the wasm runtime leaves to the host", () => {
    for (const name of ["time.now_ns", "crypto.sha256", "io.jwt.decode_verify", "io.jwt.verify_rs256", "net.cidr_expand", "units.parse_bytes", "json.patch"]) {
      expect(HOST_BUILTINS).toContain(name);
    }
    expect(cases.length).toBeGreaterThanOrEqual(100);
  });

  it("leave undefined exactly the calls opa leaves undefined", () => {
    const { [CLOCK_CASE]: _now, ...opaResults } = expected;
    expect(Object.keys(actual).sort()).toEqual(Object.keys(opaResults).sort());
  });

  it("take time.now_ns from the edge's clock, exactly, in nanoseconds", () => {
    expect(canonicalJson(clock)).toBe(canonicalJson(BigInt(EDGE_NOW_MS) * 1_000_000n));
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", (name) => {
    expect(name in actual ? canonicalJson(actual[name]) : undefined).toEqual(expected[name]);
  });
});

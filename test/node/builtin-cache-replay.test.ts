/**
 * OPA's builtin caches across heap resets (src/engine/policy-instance.ts):
 * the build exports where they live (scripts/lib/wasm-builtin-caches.ts), the
 * evaluator sees an evaluation fill one and replays that input right after
 * the next reset, so the checkpoint it rewinds to from then on holds the
 * compiled pattern. A replay's answer and printed lines never reach the
 * decision it runs before.
 */
import binaryen from "binaryen";
import { describe, expect, it } from "vitest";
import { binaryenRuntime as runtime } from "../../scripts/lib/binaryen-runtime.ts";
import { opaBuildWasm } from "../../scripts/lib/opa.ts";
import { OpaWasmRewriteError } from "../../scripts/lib/opa-wasm-rewrite-error.ts";
import { exportBuiltinCaches } from "../../scripts/lib/wasm-builtin-caches.ts";
import { loadEvaluator } from "../fixtures/node-evaluator.ts";

/** The module's exported globals whose names start with tollgate_builtin, with their constant values. */
function exportedGlobals(wasm: Uint8Array): Record<string, number> {
  const module = runtime.readBinary(wasm, binaryen.Features.All);
  try {
    const found: Record<string, number> = {};
    for (let i = 0; i < module.getNumExports(); i++) {
      const exported = binaryen.getExportInfo(module.getExportByIndex(i));
      if (exported.kind !== binaryen.ExternalGlobal || !exported.name.startsWith("tollgate_builtin")) continue;
      const init = binaryen.getExpressionInfo(binaryen.getGlobalInfo(module.getGlobal(exported.value)).init) as binaryen.ConstInfo;
      found[exported.name] = init.value as number;
    }
    return found;
  } finally {
    module.dispose();
  }
}

const PATTERN = "^(a|b)+c[0-9]{2,}$";
const filler = JSON.stringify({ pattern: PATTERN, text: "ababc42" });
/** An input of 200 KB: the heap passes its bound (4 MiB above the data) in some twenty evaluations. */
const bulky = (n: number) => JSON.stringify({ pattern: PATTERN, text: `${"x".repeat(200_000)}${n}` });

describe("OPA's builtin caches across heap resets", () => {
  it("are exported by the build where a policy has them, and nowhere else", async () => {
    const withCache = await opaBuildWasm("test/fixtures/cache-replay", "replay/result");
    const exported = exportedGlobals(withCache.wasm);
    expect(exported.tollgate_builtin_caches).toBeGreaterThan(0);
    expect(exported.tollgate_builtin_cache_slots).toBe(8);
    // The memo table's fixture calls no caching builtin: OPA's build left it no accessor.
    const without = await opaBuildWasm("test/fixtures/memo-table", "memo/result");
    expect(exportedGlobals(without.wasm)).toEqual({});
  });

  it("keep a pattern compiled before a reset, and a replay leaves the decision after it its own answer and lines", async () => {
    const { wasm, dataText } = await opaBuildWasm("test/fixtures/cache-replay", "replay/result");
    const evaluator = await loadEvaluator(await WebAssembly.compile(new Uint8Array(wasm)), dataText, "replay/result");
    const growth = (input: string) => {
      const before = evaluator.heapBytes();
      const outcome = evaluator.evaluate(input, 0);
      return { bytes: evaluator.heapBytes() - before, outcome };
    };
    // The first evaluation compiles the pattern; the same input again compiles nothing.
    const compiling = growth(filler).bytes;
    const cached = growth(filler).bytes;
    expect(compiling).toBeGreaterThan(cached + 1024);

    let resets = 0;
    for (let n = 0; n < 400 && resets < 3; n++) {
      const before = evaluator.heapBytes();
      const outcome = evaluator.evaluate(bulky(n), 0);
      // Only this decision's line, never the replayed input's ("ababc42").
      expect(outcome.print).toEqual([`evaluated ${"x".repeat(8)}`]);
      expect(outcome.result).toEqual({ matched: false, length: 200_000 + String(n).length });
      if (evaluator.heapBytes() < before) {
        resets++;
        // Right after each reset the pattern is there: the input that compiled it compiles nothing.
        expect(growth(filler).bytes, `after reset ${resets}`).toBeLessThan(compiling - 1024);
      }
    }
    expect(resets).toBe(3);
  });

  it("refuses a cache accessor that does not read one static array", () => {
    const module = new binaryen.Module();
    module.setMemory(1, 1);
    // Reads its slot from a computed address rather than `offset=ADDRESS (i << 2)`.
    module.addFunction("opa_builtin_cache_get", binaryen.i32, binaryen.i32, [], module.i32.load(0, 4, module.i32.mul(module.local.get(0, binaryen.i32), module.i32.const(4))));
    expect(() => exportBuiltinCaches(module)).toThrow(OpaWasmRewriteError);
    module.dispose();
  });
});

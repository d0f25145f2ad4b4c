/**
 * The build's rewrite of OPA's memo table (scripts/lib/wasm-memo-table.ts),
 * on OPA's real output: every policy the build compiles carries it, a `with`
 * gets its scope functions rewritten too, and a module that is not OPA's
 * runtime as the rewrite knows it is refused rather than passed through.
 * What the rewritten tables decide is tested in workerd against `opa eval`
 * (test/integration/memo-table.test.ts).
 */
import binaryen from "binaryen";
import { describe, expect, it } from "vitest";
import { binaryenRuntime as runtime } from "../../scripts/lib/binaryen-runtime.ts";
import { opaBuildWasm } from "../../scripts/lib/opa.ts";
import { OpaWasmRewriteError } from "../../scripts/lib/opa-wasm-rewrite-error.ts";
import { rewriteOpaWasm } from "../../scripts/lib/opa-wasm-rewrite.ts";
import { loadEvaluator } from "../fixtures/node-evaluator.ts";
import { callsOf } from "../fixtures/wasm-calls.ts";

/** The module's bytes with its name section, where the rewrite looks functions up. */
function emitNamed(module: binaryen.Module): Uint8Array {
  binaryen.setDebugInfo(true);
  try {
    return module.emitBinary();
  } finally {
    binaryen.setDebugInfo(false);
    module.dispose();
  }
}

describe("the build's memo table", () => {
  it("is an array in every compiled policy: no memo function calls OPA's object functions", async () => {
    for (const [dir, entrypoint] of [["policies/global", "tollgate/decision"], ["test/fixtures/memo-table", "memo/result"]]) {
      const { wasm } = await opaBuildWasm(dir, entrypoint);
      for (const name of ["opa_memoize_init", "opa_memoize_get", "opa_memoize_insert"]) {
        expect(callsOf(wasm, name).filter((callee) => callee.startsWith("opa_object") || callee.startsWith("opa_number")), `${dir}: ${name}`).toEqual([]);
      }
    }
  });

  it("rewrites push and pop where a `with` uses them", async () => {
    const { wasm } = await opaBuildWasm("test/fixtures/memo-table", "memo/result");
    // A new table from OPA's allocator: through the rewrite's own function, or with it inlined by the build's optimizer.
    expect(["tollgate_memo_new_table", "opa_malloc"]).toContainEqual(callsOf(wasm, "opa_memoize_push").join());
    expect(callsOf(wasm, "opa_memoize_pop")).toEqual([]);
  });

  it("leaves nothing on the heap for the table: evaluations keep as little as before the rewrite", async () => {
    // A table of one slot per function is kilobytes; taken from the heap at each evaluation it would stay
    // there until the next reset. The evaluation's own table sits below the heap instead.
    const { wasm, dataText } = await opaBuildWasm("test/fixtures/memo-table", "memo/result");
    const evaluator = await loadEvaluator(await WebAssembly.compile(new Uint8Array(wasm)), dataText, "memo/result");
    const input = JSON.stringify({ x: 3 });
    for (let i = 0; i < 50; i++) evaluator.evaluate(input, 0);
    const before = evaluator.heapBytes();
    for (let i = 0; i < 500; i++) expect((evaluator.evaluate(input, 0).result as { doubled: number }).doubled).toBe(6);
    const perEvaluation = (evaluator.heapBytes() - before) / 500;
    const module = runtime.readBinary(wasm, binaryen.Features.All);
    const slots = module.getNumFunctions();
    module.dispose();
    expect(perEvaluation).toBeLessThan(slots);
  });

  it("refuses a module that is not OPA's runtime", () => {
    const module = new binaryen.Module();
    module.addFunction("opa_memoize_init", binaryen.none, binaryen.none, [], module.nop());
    expect(() => rewriteOpaWasm(emitNamed(module))).toThrow(/no opa_memoize_get/);
    expect(() => rewriteOpaWasm(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).toThrow(OpaWasmRewriteError);
  });

  it("refuses a memo function whose signature is not OPA's", () => {
    const module = new binaryen.Module();
    module.addFunction("opa_malloc", binaryen.i32, binaryen.i32, [], module.local.get(0, binaryen.i32));
    module.addFunction("opa_memoize_init", binaryen.none, binaryen.none, [], module.nop());
    module.addFunction("opa_memoize_get", binaryen.i32, binaryen.i32, [], module.local.get(0, binaryen.i32));
    module.addFunction("opa_memoize_insert", binaryen.i32, binaryen.none, [], module.nop());
    module.addFunction("_initialize", binaryen.none, binaryen.none, [], module.nop());
    module.setMemory(1, 1);
    expect(() => rewriteOpaWasm(emitNamed(module))).toThrow(/opa_memoize_insert does not have the signature/);
  });

  it("refuses a module whose initializer does not start OPA's heap at one constant address", () => {
    const module = new binaryen.Module();
    module.addFunction("opa_malloc_init", binaryen.i32, binaryen.none, [], module.nop());
    module.addFunction("opa_memoize_init", binaryen.none, binaryen.none, [], module.nop());
    module.addFunction("opa_memoize_get", binaryen.i32, binaryen.i32, [], module.local.get(0, binaryen.i32));
    module.addFunction("opa_memoize_insert", binaryen.createType([binaryen.i32, binaryen.i32]), binaryen.none, [], module.nop());
    module.addFunction("_initialize", binaryen.none, binaryen.none, [binaryen.i32], module.call("opa_malloc_init", [module.local.get(0, binaryen.i32)], binaryen.none));
    module.setMemory(1, 1);
    expect(() => rewriteOpaWasm(emitNamed(module))).toThrow(/does not start OPA's heap at one constant address/);
  });
});

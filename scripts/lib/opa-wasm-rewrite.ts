/**
 * @module opa-wasm-rewrite
 * What the build does to OPA's wasm output before the bundle is signed, in
 * one pass over the module: its memo table becomes an array
 * (wasm-memo-table.ts), where its builtin caches live is exported
 * (wasm-builtin-caches.ts), stepping through objects and sets keeps a
 * cursor instead of hashing (wasm-iteration-cursor.ts), small integers are
 * added without decimals (wasm-integer-arithmetic.ts), constant strings'
 * hashes are remembered (wasm-interned-hashes.ts), strings are compared a
 * word at a time (wasm-string-compare.ts), and then binaryen's optimizer
 * runs over the whole (see OPTIMIZE_LEVEL). The edge runs exactly the bytes published; a
 * module that is not OPA's runtime as these rewrites know it fails the
 * build (OpaWasmRewriteError) instead of passing through unrewritten.
 */
import binaryen from "binaryen";
import { binaryenRuntime as runtime } from "./binaryen-runtime.ts";
import { OpaWasmRewriteError } from "./opa-wasm-rewrite-error.ts";
import { exportBuiltinCaches } from "./wasm-builtin-caches.ts";
import { integerArithmetic } from "./wasm-integer-arithmetic.ts";
import { internedHashes } from "./wasm-interned-hashes.ts";
import { iterationCursor } from "./wasm-iteration-cursor.ts";
import { wordStringCompare } from "./wasm-string-compare.ts";
import { arrayMemoTable } from "./wasm-memo-table.ts";

/** What OPA's compiled policies use; the memo table adds bulk memory (memory.fill, which the edge's V8 has). */
const FEATURES = binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt;

/**
 * binaryen's -O3, speed over size. OPA's compiler emits each rule as a
 * function that calls the runtime for every step (a value's type, a
 * lookup, a comparison), and V8 inlines little of that: inlined and
 * simplified at build time, the global policy's evaluation took 12-15%
 * less time over the scenario mix (Node, medians of 15 interleaved rounds:
 * 29.0 against 25.1 µs per input, 35.6 against 30.4 µs over a random
 * stream), with every answer the same, and the module is a fifth smaller.
 * Larger inlining limits gained a further 1-5% in rounds of their own (the
 * medians and the fastest rounds disagree on how much) for a module 10% to
 * 70% larger; not worth it.
 * The optimizer keeps what the edge relies on: exports, the memory's
 * contents and layout (the builtin caches' array is read at its address),
 * and traps (no pass that assumes they cannot happen runs).
 */
const OPTIMIZE_LEVEL = 3;

/** OPA's compiled policy, rewritten; throws when the module is not OPA's runtime as the rewrites know it. */
export function rewriteOpaWasm(wasm: Uint8Array): Uint8Array {
  const module = runtime.readBinary(wasm, FEATURES);
  // binaryen's settings are its own globals: set for this module and given back as they were.
  const settings = { debugInfo: binaryen.getDebugInfo(), optimizeLevel: binaryen.getOptimizeLevel(), shrinkLevel: binaryen.getShrinkLevel() };
  try {
    arrayMemoTable(module);
    exportBuiltinCaches(module);
    iterationCursor(module);
    integerArithmetic(module);
    internedHashes(module);
    wordStringCompare(module);
    if (!module.validate()) throw new OpaWasmRewriteError("the rewritten policy does not validate");
    // Keep the name section: function names in a profile or a trap's stack are the policy's rules (those not inlined).
    binaryen.setDebugInfo(true);
    binaryen.setOptimizeLevel(OPTIMIZE_LEVEL);
    binaryen.setShrinkLevel(0);
    module.optimize();
    if (!module.validate()) throw new OpaWasmRewriteError("the optimized policy does not validate");
    return module.emitBinary();
  } finally {
    binaryen.setDebugInfo(settings.debugInfo);
    binaryen.setOptimizeLevel(settings.optimizeLevel);
    binaryen.setShrinkLevel(settings.shrinkLevel);
    module.dispose();
  }
}

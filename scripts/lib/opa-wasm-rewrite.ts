/**
 * @module opa-wasm-rewrite
 * What the build does to OPA's wasm output before the bundle is signed, in
 * one pass over the module: its memo table becomes an array
 * (wasm-memo-table.ts), and where its builtin caches live is exported
 * (wasm-builtin-caches.ts). The edge runs exactly the bytes published; a
 * module that is not OPA's runtime as these rewrites know it fails the
 * build (OpaWasmRewriteError) instead of passing through unrewritten.
 */
import binaryen from "binaryen";
import { binaryenRuntime as runtime } from "./binaryen-runtime.ts";
import { OpaWasmRewriteError } from "./opa-wasm-rewrite-error.ts";
import { exportBuiltinCaches } from "./wasm-builtin-caches.ts";
import { arrayMemoTable } from "./wasm-memo-table.ts";

/** What OPA's compiled policies use; the memo table adds bulk memory (memory.fill, which the edge's V8 has). */
const FEATURES = binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt;

/** OPA's compiled policy, rewritten; throws when the module is not OPA's runtime as the rewrites know it. */
export function rewriteOpaWasm(wasm: Uint8Array): Uint8Array {
  const module = runtime.readBinary(wasm, FEATURES);
  try {
    arrayMemoTable(module);
    exportBuiltinCaches(module);
    if (!module.validate()) throw new OpaWasmRewriteError("the rewritten policy does not validate");
    // Keep the name section: function names in a profile or a trap's stack are the policy's rules.
    const debugInfo = binaryen.getDebugInfo();
    binaryen.setDebugInfo(true);
    try {
      return module.emitBinary();
    } finally {
      binaryen.setDebugInfo(debugInfo);
    }
  } finally {
    module.dispose();
  }
}

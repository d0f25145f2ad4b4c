/**
 * @module wasm-heap-reserve
 * Room for the build's own tables in an OPA-compiled policy's memory, below
 * OPA's heap: part of no heap, so a heap reset never releases it, and
 * copied with everything else by the edge's checkpoints. Used by the memo
 * table (wasm-memo-table.ts), the iteration cursor
 * (wasm-iteration-cursor.ts) and the interned strings' hashes
 * (wasm-interned-hashes.ts); each call reserves its own room above the
 * last.
 */
import binaryen from "binaryen";
import { binaryenRuntime as runtime } from "./binaryen-runtime.ts";
import { OpaWasmRewriteError } from "./opa-wasm-rewrite-error.ts";

/** OPA's module initializer, which tells OPA's allocator where its heap starts. */
const INITIALIZER = "_initialize";

/**
 * Moves the start of OPA's heap up by `bytes` and returns where the room
 * begins: the initializer's one call of opa_malloc_init, whose argument is
 * the heap's start (where OPA's build put it, past the module's data), gets
 * a new argument.
 */
export function reserveBelowHeap(module: binaryen.Module, bytes: number): number {
  const initializer = module.getFunction(INITIALIZER);
  if (!initializer) throw new OpaWasmRewriteError(`the policy's wasm has no ${INITIALIZER}: not an OPA runtime this build knows`);
  const body = runtime.Function.getBody(initializer);
  const info = binaryen.getExpressionInfo(body);
  const statements = info.id === binaryen.BlockId ? (info as binaryen.BlockInfo).children : [body];
  const starts = statements.flatMap((statement) => {
    const call = binaryen.getExpressionInfo(statement);
    if (call.id !== binaryen.CallId || (call as binaryen.CallInfo).target !== "opa_malloc_init") return [];
    const [argument] = (call as binaryen.CallInfo).operands;
    const value = binaryen.getExpressionInfo(argument);
    return value.id === binaryen.ConstId && value.type === binaryen.i32 ? [{ argument, heapStart: (value as binaryen.ConstInfo).value as number }] : [];
  });
  if (starts.length !== 1) throw new OpaWasmRewriteError(`the policy's ${INITIALIZER} does not start OPA's heap at one constant address`);
  const [{ argument, heapStart }] = starts;
  const room = align(heapStart, 16);
  runtime.Const.setValueI32(argument, align(room + bytes, 16));
  return room;
}

function align(address: number, to: number): number {
  return Math.ceil(address / to) * to;
}


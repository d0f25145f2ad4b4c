/**
 * @module wasm-builtin-caches
 * Exports where OPA's runtime keeps its builtin caches, so the edge can tell
 * when an evaluation filled one.
 *
 * OPA's wasm runtime caches what some builtins build, the patterns
 * `regex.match` and `glob.match` compile above all, in objects on its heap,
 * reached from a small static array of pointers (`builtin_cache` in its
 * allocator, one slot per builtin family). A heap reset empties that array,
 * and compiling the global policy's shell patterns again costs more than
 * half a millisecond. The edge keeps them across resets by replaying, right
 * after a reset, an input that filled a cache and keeping the memory that
 * results (policy-instance.ts); to know which input filled one it reads the
 * array before and after each evaluation. The array is static and has no
 * export, so the build reads its address from `opa_builtin_cache_get`,
 * which loads slot `i` from `address + i * 4` after checking `i` against
 * the slot count, and exports both as constant globals:
 * `tollgate_builtin_caches` and `tollgate_builtin_cache_slots`.
 *
 * Nothing in the policy's code changes. A module whose accessor does not
 * have that shape is refused, as the memo table's rewrite refuses a runtime
 * it does not know; one without the accessor keeps no cache to export.
 */
import binaryen from "binaryen";
import { binaryenRuntime as runtime } from "./binaryen-runtime.ts";
import { OpaWasmRewriteError } from "./opa-wasm-rewrite-error.ts";
import { requireSignature } from "./wasm-runtime-functions.ts";

const ACCESSOR = "opa_builtin_cache_get";
const CACHES_GLOBAL = "tollgate_builtin_caches";
const SLOTS_GLOBAL = "tollgate_builtin_cache_slots";

/**
 * Adds the two exports to `module` (OPA's runtime, otherwise untouched). A
 * policy whose builtins keep no cache has no accessor (OPA's build drops
 * what nothing calls), and gets none.
 */
export function exportBuiltinCaches(module: binaryen.Module): void {
  const accessor = module.getFunction(ACCESSOR);
  if (!accessor) return;
  requireSignature(module, ACCESSOR, [binaryen.i32], binaryen.i32, "OPA's builtin cache accessor");
  const expressions = [...walk(runtime.Function.getBody(accessor))];
  // The slot's load: i32.load offset=ADDRESS (i << 2).
  const addresses = expressions.flatMap((expression) => {
    const load = binaryen.getExpressionInfo(expression) as binaryen.LoadInfo;
    return load.id === binaryen.LoadId && load.bytes === 4 && isSlotIndex(load.ptr) ? [load.offset] : [];
  });
  // The bound: i < SLOTS.
  const bounds = expressions.flatMap((expression) => {
    const compare = binaryen.getExpressionInfo(expression) as binaryen.BinaryInfo;
    if (compare.id !== binaryen.BinaryId || compare.op !== binaryen.LtUInt32 || !isParam(compare.left)) return [];
    const bound = binaryen.getExpressionInfo(compare.right) as binaryen.ConstInfo;
    return bound.id === binaryen.ConstId && bound.type === binaryen.i32 ? [bound.value as number] : [];
  });
  if (addresses.length !== 1 || bounds.length !== 1 || !(addresses[0] > 0) || !(bounds[0] > 0 && bounds[0] <= 64)) {
    throw new OpaWasmRewriteError(`${ACCESSOR} does not read one static array of cache slots: not an OPA runtime this build knows`);
  }
  for (const [name, value] of [[CACHES_GLOBAL, addresses[0]], [SLOTS_GLOBAL, bounds[0]]] as const) {
    module.addGlobal(name, binaryen.i32, false, module.i32.const(value));
    module.addGlobalExport(name, name);
  }
}

/** `local.get 0`, the slot's index. */
function isParam(expression: binaryen.ExpressionRef): boolean {
  const info = binaryen.getExpressionInfo(expression) as binaryen.LocalGetInfo;
  return info.id === binaryen.LocalGetId && info.index === 0;
}

/** `i << 2`: the slot's byte offset in the array. */
function isSlotIndex(expression: binaryen.ExpressionRef): boolean {
  const info = binaryen.getExpressionInfo(expression) as binaryen.BinaryInfo;
  if (info.id !== binaryen.BinaryId || info.op !== binaryen.ShlInt32 || !isParam(info.left)) return false;
  const shift = binaryen.getExpressionInfo(info.right) as binaryen.ConstInfo;
  return shift.id === binaryen.ConstId && shift.value === 2;
}

/** Every expression of a (small) body, through the kinds an accessor is made of. */
function* walk(expression: binaryen.ExpressionRef): Generator<binaryen.ExpressionRef> {
  if (!expression) return;
  yield expression;
  const info = binaryen.getExpressionInfo(expression) as unknown as Record<string, unknown>;
  for (const field of ["children", "operands"]) {
    for (const child of (info[field] as binaryen.ExpressionRef[] | undefined) ?? []) yield* walk(child);
  }
  for (const field of ["condition", "ifTrue", "ifFalse", "body", "value", "ptr", "left", "right"]) {
    const child = info[field];
    if (typeof child === "number" && info.id !== binaryen.ConstId) yield* walk(child);
  }
}

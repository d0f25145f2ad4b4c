/**
 * @module wasm-memo-table
 * Replaces the memo table of an OPA-compiled policy with a flat array.
 *
 * OPA's wasm runtime memoizes every complete rule an evaluation computes in a
 * Rego object keyed by the rule's function index: each lookup allocates a
 * number, hashes it and walks the object's buckets, and each insert may grow
 * it. Profiled over the scenario mix that was about a third of a decision's
 * evaluation. The keys are small integers fixed at compile time (a function's
 * index in the module), so the same table can be an array indexed by them:
 * a lookup is one load, an insert one store.
 *
 * The functions of OPA's memo API (init, get, insert, and push and pop where
 * a `with` needs them) keep their names and signatures and get new bodies;
 * nothing that calls them changes. A table is
 *
 *   [ enclosing table (0 for the evaluation's own) | one slot per function index ]
 *
 * with a slot 0 until its rule is memoized. The evaluation's own table sits
 * just below OPA's heap, whose start the module's initializer moves up by
 * the table's size: it is part of no heap, so a heap reset between
 * evaluations never releases it, and an evaluation leaves nothing behind
 * for it (OPA's object was never released, and a table from the heap at
 * each evaluation was kilobytes of garbage kept until the next reset).
 * `opa_memoize_init` zeroes it and makes it current at the start of every
 * evaluation, so nothing carries from one to the next. `push` (a `with`,
 * which must not see or fill the table around it) takes a new table from
 * OPA's allocator over the current one, `pop` returns to it. A key that is
 * not a function index (OPA never emits one) traps rather than reads
 * outside the table.
 *
 * Run at build time on OPA's output (opa-wasm-rewrite.ts), before the
 * bundle is signed, so the edge runs exactly what was published.
 */
import binaryen from "binaryen";
import { binaryenRuntime as runtime } from "./binaryen-runtime.ts";
import { OpaWasmRewriteError } from "./opa-wasm-rewrite-error.ts";
import { reserveBelowHeap } from "./wasm-heap-reserve.ts";
import { requireSignature } from "./wasm-runtime-functions.ts";

/** OPA's memo API, as its runtime names and declares it: params, then result. */
const MEMO_SIGNATURES = {
  opa_memoize_init: [[], binaryen.none],
  opa_memoize_get: [[binaryen.i32], binaryen.i32],
  opa_memoize_insert: [[binaryen.i32, binaryen.i32], binaryen.none],
  opa_memoize_push: [[], binaryen.none],
  opa_memoize_pop: [[], binaryen.none],
} satisfies Record<string, [number[], number]>;
type MemoFunction = keyof typeof MEMO_SIGNATURES;
/** Every policy has these three. */
const MEMO_FUNCTIONS: MemoFunction[] = ["opa_memoize_init", "opa_memoize_get", "opa_memoize_insert"];
/**
 * Present only in a policy with a `with` statement: OPA's build drops the
 * functions nothing calls, name and all, leaving a body that traps.
 */
const SCOPE_FUNCTIONS: MemoFunction[] = ["opa_memoize_push", "opa_memoize_pop"];
const TABLE_GLOBAL = "tollgate_memo_table";
const NEW_TABLE = "tollgate_memo_new_table";

/** Gives `module` (OPA's runtime) an array for a memo table; throws when it is not the runtime this rewrite knows. */
export function arrayMemoTable(module: binaryen.Module): void {
  const memoSignature = (name: MemoFunction) => requireSignature(module, name, MEMO_SIGNATURES[name][0], MEMO_SIGNATURES[name][1], "OPA's memo API");
  for (const name of MEMO_FUNCTIONS) memoSignature(name);
  const scoped = SCOPE_FUNCTIONS.filter((name) => module.getFunction(name));
  if (scoped.length === 1) throw new OpaWasmRewriteError(`the policy's wasm has ${scoped[0]} without its pair`);
  for (const name of scoped) memoSignature(name);
  // Function indices (imports included) are the keys; nothing below adds a function before the count is taken.
  const slots = module.getNumFunctions();
  const tableBytes = 4 + 4 * slots;
  const i32 = binaryen.i32;
  const table = () => module.global.get(TABLE_GLOBAL, i32);
  const ownTable = reserveBelowHeap(module, tableBytes);
  module.addGlobal(TABLE_GLOBAL, i32, true, module.i32.const(0));

  // The slot of key `index` (param 0) in the current table, trapping for a key out of range.
  const slot = () =>
    module.block(null, [
      module.if(module.i32.ge_u(module.local.get(0, i32), module.i32.const(slots)), module.unreachable()),
      module.i32.add(table(), module.i32.shl(module.local.get(0, i32), module.i32.const(2))),
    ], i32);

  setBody(module, "opa_memoize_init", module.block(null, [
    module.memory.fill(module.i32.const(ownTable), module.i32.const(0), module.i32.const(tableBytes)),
    module.global.set(TABLE_GLOBAL, module.i32.const(ownTable)),
  ]));
  setBody(module, "opa_memoize_get", module.i32.load(4, 4, slot()));
  setBody(module, "opa_memoize_insert", module.i32.store(4, 4, slot(), module.local.get(1, i32)));

  if (scoped.length === 2) {
    // new_table(enclosing) -> a zeroed table from OPA's allocator whose first word is the enclosing one.
    module.addFunction(
      NEW_TABLE,
      binaryen.createType([i32]),
      i32,
      [i32],
      module.block(null, [
        module.local.set(1, module.call("opa_malloc", [module.i32.const(tableBytes)], i32)),
        module.memory.fill(module.local.get(1, i32), module.i32.const(0), module.i32.const(tableBytes)),
        module.i32.store(0, 4, module.local.get(1, i32), module.local.get(0, i32)),
        module.local.get(1, i32),
      ], i32),
    );
    setBody(module, "opa_memoize_push", module.global.set(TABLE_GLOBAL, module.call(NEW_TABLE, [table()], i32)));
    setBody(module, "opa_memoize_pop", module.global.set(TABLE_GLOBAL, module.i32.load(0, 4, table())));
  }
}

/** Gives a memo function (its signature checked) a new body. */
function setBody(module: binaryen.Module, name: MemoFunction, body: binaryen.ExpressionRef): void {
  runtime.Function.setBody(module.getFunction(name), body);
}

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
 * The five functions of OPA's memo API (init, push, pop, get, insert) keep
 * their names and signatures and get new bodies; nothing that calls them
 * changes. A table is a block from OPA's own allocator, so it lives and is
 * released with the evaluation's heap as OPA's object did:
 *
 *   [ enclosing table (0 for the first) | one slot per function index ]
 *
 * with a slot 0 until its rule is memoized. `push` (a `with` statement, which
 * must not see or fill the enclosing table) starts a new table over the
 * current one, `pop` returns to it. The current table is a module global that
 * `opa_memoize_init` sets at the start of every evaluation, so no state
 * carries from one evaluation to the next. A key that is not a function
 * index (never emitted by OPA) traps rather than reads outside the table.
 *
 * Run at build time on OPA's output, before the bundle is signed, so the
 * edge runs exactly what was published.
 */
import binaryen from "binaryen";

/** OPA's memo API, as its runtime names it; every policy has these three. */
const MEMO_FUNCTIONS = ["opa_memoize_init", "opa_memoize_get", "opa_memoize_insert"] as const;
/**
 * Present only in a policy with a `with` statement: OPA's build drops the
 * functions nothing calls, name and all, leaving a body that traps.
 */
const SCOPE_FUNCTIONS = ["opa_memoize_push", "opa_memoize_pop"] as const;
const TABLE_GLOBAL = "tollgate_memo_table";
const NEW_TABLE = "tollgate_memo_new_table";
/** What OPA's compiled policies use; the rewrite adds bulk memory (memory.fill, which the edge's V8 has). */
const FEATURES = binaryen.Features.MVP | binaryen.Features.MutableGlobals | binaryen.Features.SignExt | binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt;

/** Two calls as the package's runtime has them: its type declarations give readBinary no features and put Function elsewhere. */
const runtime = binaryen as unknown as {
  readBinary(data: Uint8Array, features: binaryen.Features): binaryen.Module;
  Function: { setBody(fn: binaryen.FunctionRef, body: binaryen.ExpressionRef): void };
};

export class MemoTableRewriteError extends Error {}

/** The policy with its memo table as an array; throws when the module is not OPA's runtime as this rewrite knows it. */
export function withArrayMemoTable(wasm: Uint8Array): Uint8Array {
  const module = runtime.readBinary(wasm, FEATURES);
  try {
    for (const name of MEMO_FUNCTIONS) {
      if (!module.getFunction(name)) throw new MemoTableRewriteError(`the policy's wasm has no ${name}: not an OPA runtime this build knows`);
    }
    // Function indices (imports included) are the keys; nothing below adds a function before the count is taken.
    const slots = module.getNumFunctions();
    const tableBytes = 4 + 4 * slots;
    const i32 = binaryen.i32;
    const table = () => module.global.get(TABLE_GLOBAL, i32);
    module.addGlobal(TABLE_GLOBAL, i32, true, module.i32.const(0));

    // new_table(enclosing) -> a zeroed table whose first word is the enclosing one.
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
    // The slot of key `index` (param 0) in the current table, trapping for a key out of range.
    const slot = () =>
      module.block(null, [
        module.if(module.i32.ge_u(module.local.get(0, i32), module.i32.const(slots)), module.unreachable()),
        module.i32.add(table(), module.i32.shl(module.local.get(0, i32), module.i32.const(2))),
      ], i32);

    setBody(module, "opa_memoize_init", module.global.set(TABLE_GLOBAL, module.call(NEW_TABLE, [module.i32.const(0)], i32)));
    const scoped = SCOPE_FUNCTIONS.filter((name) => module.getFunction(name));
    if (scoped.length === 1) throw new MemoTableRewriteError(`the policy's wasm has ${scoped[0]} without its pair`);
    if (scoped.length === 2) {
      setBody(module, "opa_memoize_push", module.global.set(TABLE_GLOBAL, module.call(NEW_TABLE, [table()], i32)));
      setBody(module, "opa_memoize_pop", module.global.set(TABLE_GLOBAL, module.i32.load(0, 4, table())));
    }
    setBody(module, "opa_memoize_get", module.i32.load(4, 4, slot()));
    setBody(module, "opa_memoize_insert", module.i32.store(4, 4, slot(), module.local.get(1, i32)));

    if (!module.validate()) throw new MemoTableRewriteError("the rewritten policy does not validate");
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

/** Gives a memo function a new body; its signature must be what OPA's runtime declares. */
function setBody(module: binaryen.Module, name: string, body: binaryen.ExpressionRef): void {
  const fn = module.getFunction(name);
  const info = binaryen.getFunctionInfo(fn);
  const expected: Record<string, [number[], number]> = {
    opa_memoize_init: [[], binaryen.none],
    opa_memoize_push: [[], binaryen.none],
    opa_memoize_pop: [[], binaryen.none],
    opa_memoize_get: [[binaryen.i32], binaryen.i32],
    opa_memoize_insert: [[binaryen.i32, binaryen.i32], binaryen.none],
  };
  const [params, results] = expected[name];
  const actual = binaryen.expandType(info.params);
  if (info.results !== results || actual.length !== params.length || actual.some((type, i) => type !== params[i])) {
    throw new MemoTableRewriteError(`${name} does not have the signature of OPA's memo API`);
  }
  runtime.Function.setBody(fn, body);
}

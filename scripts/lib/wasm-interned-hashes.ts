/**
 * @module wasm-interned-hashes
 * Remembers the hashes of a policy's constant strings.
 *
 * Every `input.action` or `cfg.tools[name]` in a rule is an `opa_value_get`
 * with a constant key, and OPA hashes the key's bytes (FNV-1a, one byte at a
 * time) on every lookup. Those keys are the compiler's interned strings:
 * opa_string_t structs it writes into the module's data segment with their
 * own type tag (OPA_STRING_INTERNED), which OPA never frees or changes. So a
 * hash computed once for an interned string's address holds for as long as
 * the module runs.
 *
 * `opa_value_hash` becomes: for an interned string, look in a small table
 * (below OPA's heap, a slot per address, picked by its bits) and compute
 * only on a miss; for anything else, OPA's function, kept as
 * `tollgate_value_hash_computed`. A slot holds an address and its hash;
 * the table starts zeroed and no value lives at address 0, so an empty slot
 * never matches. The hash stored is OPA's own, so buckets, and with them
 * the order in which sets and objects are stepped through, do not change.
 * Run at build time (opa-wasm-rewrite.ts), before the optimizer.
 */
import binaryen from "binaryen";
import { reserveBelowHeap } from "./wasm-heap-reserve.ts";
import { keepBodyAs, requireSignature } from "./wasm-runtime-functions.ts";

const HASH = "opa_value_hash";
const COMPUTED = "tollgate_value_hash_computed";
/** OPA's tag for the compiler's constant strings (value.h). */
const OPA_STRING_INTERNED = 8;
/** Slots of {address, hash}, a power of two: more than the global policy's constant keys. */
const SLOTS = 512;
const SLOT_BYTES = 8;

const i32 = binaryen.i32;

/** Gives `module` (OPA's runtime) the table; throws when its hash function is not the runtime's as this rewrite knows it. */
export function internedHashes(module: binaryen.Module): void {
  requireSignature(module, HASH, [i32], i32);
  const table = reserveBelowHeap(module, SLOTS * SLOT_BYTES);
  const info = keepBodyAs(module, HASH, COMPUTED);

  const [value, slot, computed] = [0, 1, 2];
  const get = (index: number) => module.local.get(index, i32);
  // Interned strings sit 12 bytes apart at least: the bits above the lowest two pick the slot.
  const slotAddress = module.i32.add(module.i32.const(table), module.i32.shl(module.i32.and(module.i32.shr_u(get(value), module.i32.const(2)), module.i32.const(SLOTS - 1)), module.i32.const(3)));
  const body = module.block(null, [
    module.if(module.i32.ne(module.i32.load8_u(0, 1, get(value)), module.i32.const(OPA_STRING_INTERNED)), module.return(module.call(COMPUTED, [get(value)], i32))),
    module.local.set(slot, slotAddress),
    module.if(module.i32.eq(module.i32.load(0, 4, get(slot)), get(value)), module.return(module.i32.load(4, 4, get(slot)))),
    module.local.set(computed, module.call(COMPUTED, [get(value)], i32)),
    module.i32.store(0, 4, get(slot), get(value)),
    module.i32.store(4, 4, get(slot), get(computed)),
    get(computed),
  ], i32);
  module.addFunction(HASH, info.params, info.results, [i32, i32], body);
}

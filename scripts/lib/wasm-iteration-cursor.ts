/**
 * @module wasm-iteration-cursor
 * Lets OPA's runtime step through an object or a set without hashing.
 *
 * OPA's `opa_value_iter(collection, prev)` returns the key after `prev`; for
 * an object or a set it finds `prev` again by hashing it and walking its
 * bucket, at every step. A rule's `some k, v in obj` then calls
 * `opa_value_get(obj, k)`, which hashes `k` once more. For a set of objects
 * each step hashes a whole element, and dumping a result set (one decision
 * object) hashed the whole decision, every string in it, to learn that no
 * element followed. Profiled over the scenario mix, that was about 5% of an
 * evaluation.
 *
 * The rewrite keeps cursors: for a collection being stepped through, the
 * key last returned, its element and its bucket, in a small table below
 * OPA's heap with a slot picked by the collection's address (so that the
 * writer's steps through a set of objects and through each object in it
 * keep a cursor each). A step whose (collection, prev) is its slot's
 * cursor takes the element from it; a lookup of the cursor's key in the
 * cursor's object takes the element's value. A cursor is a hint,
 * never trusted: it is used only when its element is, at that moment,
 * linked in the named bucket of the live collection (a walk of a short
 * chain of pointers, no hashing) and holds `prev` itself. An object keeps
 * each element in the bucket of its key's hash and keys are unique, so that
 * element is the one OPA's search would have found: the answer is the same
 * whatever happened to the memory since the cursor was set (a heap reset, a
 * checkpoint copied back, a collection freed and another allocated in its
 * place, a growth that moved the buckets). When the cursor does not hold, the step finds `prev` by its
 * hash and its address, as OPA does, and sets the cursor; only a `prev`
 * that is not one of the collection's own keys (OPA's compiled code never
 * passes one) goes to OPA's own function.
 *
 * The functions keep their names and signatures; OPA's bodies stay, renamed
 * (`tollgate_value_iter_hashed`, `tollgate_value_get_hashed`), for what the
 * cursor does not cover (arrays, and lookups of other keys). Run at build
 * time (opa-wasm-rewrite.ts), before the optimizer inlines them.
 */
import binaryen from "binaryen";
import { reserveBelowHeap } from "./wasm-heap-reserve.ts";
import { keepBodyAs, requireSignature } from "./wasm-runtime-functions.ts";

const ITER = "opa_value_iter";
const GET = "opa_value_get";
const HASH = "opa_value_hash";
const ITER_HASHED = "tollgate_value_iter_hashed";
const GET_HASHED = "tollgate_value_get_hashed";
const FIND = "tollgate_cursor_find";
/** A cursor: {collection, key, element, bucket}, four words; SLOTS of them, a power of two. */
const CURSOR = { collection: 0, key: 4, element: 8, bucket: 12 };
const CURSOR_BYTES = 16;
const SLOTS = 16;

/** OPA's type tags and struct layouts (value.h), in wasm32. */
const OPA_OBJECT = 6;
const OPA_SET = 7;
/** opa_object_t and opa_set_t: {type, buckets @4, n @8, len @12}. */
const BUCKETS = 4;
const BUCKET_COUNT = 8;
/** An element's key (an object's) or value (a set's) is its first word; its next is at 8 in an object's, 4 in a set's. */
const OBJECT_NEXT = 8;
const SET_NEXT = 4;
/** An object element's value. */
const OBJECT_VALUE = 4;

/** Gives `module` (OPA's runtime) the cursor; throws when its functions are not the runtime's as this rewrite knows them. */
export function iterationCursor(module: binaryen.Module): void {
  requireSignature(module, ITER, [i32, i32], i32);
  requireSignature(module, GET, [i32, i32], i32);
  requireSignature(module, HASH, [i32], i32);
  const table = reserveBelowHeap(module, SLOTS * CURSOR_BYTES);
  keepBodyAs(module, ITER, ITER_HASHED);
  keepBodyAs(module, GET, GET_HASHED);
  addFind(module, table);
  addIter(module, table);
  addGet(module, table);
}

/** The address of a collection's cursor slot: its address's bits above malloc's alignment, folded. */
function slotOf(module: binaryen.Module, table: number, collection: binaryen.ExpressionRef, again: binaryen.ExpressionRef): binaryen.ExpressionRef {
  const mixed = module.i32.xor(module.i32.shr_u(collection, module.i32.const(4)), module.i32.shr_u(again, module.i32.const(9)));
  return module.i32.add(module.i32.const(table), module.i32.shl(module.i32.and(mixed, module.i32.const(SLOTS - 1)), module.i32.const(4)));
}

const i32 = binaryen.i32;

const field = (module: binaryen.Module, slot: binaryen.ExpressionRef, offset: number) => module.i32.load(offset, 4, slot);

/**
 * find(collection, prev, bucket) -> element: the element of `collection`
 * (an object or a set) linked in `bucket` whose first word is `prev`
 * itself, or 0. Sets the cursor to it when found.
 */
function addFind(module: binaryen.Module, table: number): void {
  const [collection, prev, bucket, element, next] = [0, 1, 2, 3, 4];
  const get = (index: number) => module.local.get(index, i32);
  const nextOffset = module.select(
    module.i32.eq(module.i32.load8_u(0, 1, get(collection)), module.i32.const(OPA_OBJECT)),
    module.i32.const(OBJECT_NEXT),
    module.i32.const(SET_NEXT),
  );
  module.addFunction(
    FIND,
    binaryen.createType([i32, i32, i32]),
    i32,
    [i32, i32],
    module.block(null, [
      module.local.set(next, nextOffset),
      module.local.set(element, module.i32.load(0, 4, module.i32.add(module.i32.load(BUCKETS, 4, get(collection)), module.i32.shl(get(bucket), module.i32.const(2))))),
      module.loop(
        "walk",
        module.if(
          get(element),
          module.block(null, [
            module.if(
              module.i32.eq(module.i32.load(0, 4, get(element)), get(prev)),
              module.block(null, [setCursor(module, slotOf(module, table, get(collection), get(collection)), get(collection), get(prev), get(element), get(bucket)), module.return(get(element))]),
            ),
            module.local.set(element, module.i32.load(0, 4, module.i32.add(get(element), get(next)))),
            module.br("walk"),
          ]),
        ),
      ),
      module.i32.const(0),
    ], i32),
  );
}

/** Writes a cursor into its slot: `slot` is evaluated four times, so it is a local or a computation without effects. */
function setCursor(module: binaryen.Module, slot: binaryen.ExpressionRef, collection: binaryen.ExpressionRef, key: binaryen.ExpressionRef, element: binaryen.ExpressionRef, bucket: binaryen.ExpressionRef): binaryen.ExpressionRef {
  const copy = () => module.copyExpression(slot);
  return module.block(null, [
    module.i32.store(CURSOR.collection, 4, copy(), collection),
    module.i32.store(CURSOR.key, 4, copy(), key),
    module.i32.store(CURSOR.element, 4, copy(), element),
    module.i32.store(CURSOR.bucket, 4, slot, bucket),
  ]);
}

/**
 * The element holding `prev` in `collection` (an object or a set with at
 * least one bucket): by the cursor when it holds, else by prev's hash and
 * address. 0 when neither finds it. Leaves its bucket in `bucketLocal`.
 */
function located(module: binaryen.Module, table: number, collection: number, prev: number, n: number, bucketLocal: number, element: number, slot: number): binaryen.ExpressionRef {
  const get = (index: number) => module.local.get(index, i32);
  const cursorHolds = module.i32.and(
    module.i32.and(module.i32.eq(field(module, get(slot), CURSOR.collection), get(collection)), module.i32.eq(field(module, get(slot), CURSOR.key), get(prev))),
    module.i32.lt_u(field(module, get(slot), CURSOR.bucket), get(n)),
  );
  return module.block(null, [
    module.local.set(slot, slotOf(module, table, get(collection), get(collection))),
    module.local.set(element, module.i32.const(0)),
    module.if(
      cursorHolds,
      module.block(null, [
        module.local.set(bucketLocal, field(module, get(slot), CURSOR.bucket)),
        // The cursor's element must still be linked there and hold prev: find checks exactly that.
        module.local.set(element, module.call(FIND, [get(collection), get(prev), get(bucketLocal)], i32)),
      ]),
    ),
    module.if(
      module.i32.eqz(get(element)),
      module.block(null, [
        module.local.set(bucketLocal, module.i32.rem_u(module.call(HASH, [get(prev)], i32), get(n))),
        module.local.set(element, module.call(FIND, [get(collection), get(prev), get(bucketLocal)], i32)),
      ]),
    ),
  ]);
}

/** opa_value_iter(node, prev) with the cursor for objects and sets. */
function addIter(module: binaryen.Module, table: number): void {
  const [node, prev, type, n, bucket, element, next, slot] = [0, 1, 2, 3, 4, 5, 6, 7];
  const get = (index: number) => module.local.get(index, i32);
  const hashed = () => module.return(module.call(ITER_HASHED, [get(node), get(prev)], i32));
  const body = module.block(null, [
    module.if(module.i32.eqz(get(node)), hashed()),
    module.local.set(type, module.i32.load8_u(0, 1, get(node))),
    module.if(module.i32.and(module.i32.ne(get(type), module.i32.const(OPA_OBJECT)), module.i32.ne(get(type), module.i32.const(OPA_SET))), hashed()),
    module.local.set(n, module.i32.load(BUCKET_COUNT, 4, get(node))),
    module.local.set(bucket, module.i32.const(0)),
    module.if(
      get(prev),
      module.block(null, [
        // A collection without buckets has no key to follow: OPA's own function decides (it does not reach here from compiled code).
        module.if(module.i32.eqz(get(n)), hashed()),
        located(module, table, node, prev, n, bucket, element, slot),
        module.if(module.i32.eqz(get(element)), hashed()),
        module.local.set(next, module.i32.load(0, 4, module.i32.add(get(element), module.select(module.i32.eq(get(type), module.i32.const(OPA_OBJECT)), module.i32.const(OBJECT_NEXT), module.i32.const(SET_NEXT))))),
        module.if(
          get(next),
          module.block(null, [setCursor(module, get(slot), get(node), module.i32.load(0, 4, get(next)), get(next), get(bucket)), module.return(module.i32.load(0, 4, get(next)))]),
        ),
        module.local.set(bucket, module.i32.add(get(bucket), module.i32.const(1))),
      ]),
    ),
    // The first element of the first non-empty bucket from `bucket` on.
    module.loop(
      "scan",
      module.if(
        module.i32.lt_u(get(bucket), get(n)),
        module.block(null, [
          module.local.set(element, module.i32.load(0, 4, module.i32.add(module.i32.load(BUCKETS, 4, get(node)), module.i32.shl(get(bucket), module.i32.const(2))))),
          module.if(
            get(element),
            module.block(null, [
              setCursor(module, slotOf(module, table, get(node), get(node)), get(node), module.i32.load(0, 4, get(element)), get(element), get(bucket)),
              module.return(module.i32.load(0, 4, get(element))),
            ]),
          ),
          module.local.set(bucket, module.i32.add(get(bucket), module.i32.const(1))),
          module.br("scan"),
        ]),
      ),
    ),
    module.i32.const(0),
  ], i32);
  module.addFunction(ITER, binaryen.createType([i32, i32]), i32, [i32, i32, i32, i32, i32, i32], body);
}

/** opa_value_get(node, key): the cursor's element's value when it is the object's element for exactly this key, else OPA's lookup. */
function addGet(module: binaryen.Module, table: number): void {
  const [node, key, n, bucket, element, slot] = [0, 1, 2, 3, 4, 5];
  const get = (index: number) => module.local.get(index, i32);
  const hashed = () => module.call(GET_HASHED, [get(node), get(key)], i32);
  const body = module.block(null, [
    module.if(
      get(node),
      module.block(null, [
        module.local.set(slot, slotOf(module, table, get(node), get(node))),
        module.if(
          module.i32.and(
            module.i32.and(module.i32.eq(field(module, get(slot), CURSOR.collection), get(node)), module.i32.eq(field(module, get(slot), CURSOR.key), get(key))),
            module.i32.eq(module.i32.load8_u(0, 1, get(node)), module.i32.const(OPA_OBJECT)),
          ),
          module.block(null, [
            module.local.set(n, module.i32.load(BUCKET_COUNT, 4, get(node))),
            module.local.set(bucket, field(module, get(slot), CURSOR.bucket)),
            module.if(
              module.i32.lt_u(get(bucket), get(n)),
              module.block(null, [
                // Linked there and holding this key: the object's element for it, whatever the cursor's age.
                module.local.set(element, module.call(FIND, [get(node), get(key), get(bucket)], i32)),
                module.if(get(element), module.return(module.i32.load(OBJECT_VALUE, 4, get(element)))),
              ]),
            ),
          ]),
        ),
      ]),
    ),
    hashed(),
  ], i32);
  module.addFunction(GET, binaryen.createType([i32, i32]), i32, [i32, i32, i32, i32], body);
}

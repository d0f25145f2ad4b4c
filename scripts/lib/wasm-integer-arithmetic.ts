/**
 * @module wasm-integer-arithmetic
 * Adds and subtracts small integers without OPA's decimal library.
 *
 * OPA's runtime does every `+` and `-` in arbitrary-precision decimals
 * (libmpdec): each operand is converted (a number from the input is its
 * JSON text, parsed again every time), the result computed, checked, and
 * converted back, four allocations in all. Budgets add usage to estimates
 * on every decision; profiled over the scenario mix, `opa_arith_plus` was
 * about 3% of an evaluation.
 *
 * When both operands are integers within 32 bits (held as integers, or as
 * the text of one: an optional minus and at most ten digits) and so is the
 * result, the rewrite computes it in 64-bit integers and returns
 * `opa_number_int(result)`, which is what OPA's own function returns for
 * such a result (it converts a decimal that fits 32 bits with
 * `opa_number_int`). Anything else (fractions, exponents, larger numbers,
 * operands that are not numbers) goes to OPA's function, kept under a new
 * name (`tollgate_arith_plus_decimal`, `tollgate_arith_minus_decimal`).
 * Run at build time (opa-wasm-rewrite.ts), before the optimizer.
 */
import binaryen from "binaryen";
import { keepBodyAs, requireSignature } from "./wasm-runtime-functions.ts";

const OPERATIONS = { opa_arith_plus: "tollgate_arith_plus_decimal", opa_arith_minus: "tollgate_arith_minus_decimal" } as const;
const NUMBER_INT = "opa_number_int";
const SMALL_INT = "tollgate_small_int";

/** OPA's number (value.h, wasm32): {type 3, repr @1, i64 @8 | {text @8, length @12}}. */
const OPA_NUMBER = 3;
const REPR_INT = 1;
const REPR_REF = 2;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** What tollgate_small_int returns for a value that is not a small integer: no int32 is this. */
const NOT_SMALL = -(2n ** 63n);

const i32 = binaryen.i32;
const i64 = binaryen.i64;

/** Gives `module` (OPA's runtime) the integer paths; a policy without arithmetic (OPA drops what nothing calls) is left as it is. */
export function integerArithmetic(module: binaryen.Module): void {
  const present = (Object.keys(OPERATIONS) as Array<keyof typeof OPERATIONS>).filter((name) => module.getFunction(name));
  if (present.length === 0) return;
  requireSignature(module, NUMBER_INT, [i64], i32);
  for (const name of present) requireSignature(module, name, [i32, i32], i32);
  addSmallInt(module);
  for (const name of present) {
    keepBodyAs(module, name, OPERATIONS[name]);
    addOperation(module, name, OPERATIONS[name]);
  }
}

function i64Const(module: binaryen.Module, value: bigint): binaryen.ExpressionRef {
  // This binaryen takes an i64 as one bigint; its typings still name the two 32-bit halves of older releases.
  return (module.i64.const as unknown as (value: bigint) => binaryen.ExpressionRef)(value);
}

function outsideInt32(module: binaryen.Module, value: binaryen.ExpressionRef, again: binaryen.ExpressionRef): binaryen.ExpressionRef {
  return module.i32.or(module.i64.lt_s(value, i64Const(module, BigInt(INT32_MIN))), module.i64.gt_s(again, i64Const(module, BigInt(INT32_MAX))));
}

/** small_int(value) -> i64: the value as an integer when it is one within 32 bits, else NOT_SMALL. */
function addSmallInt(module: binaryen.Module): void {
  const [value, text, length, at, negative, digit] = [0, 1, 2, 3, 4, 5];
  const acc = 6;
  const get = (index: number) => module.local.get(index, i32);
  const accumulated = () => module.local.get(acc, i64);
  const no = () => module.return(i64Const(module, NOT_SMALL));
  const body = module.block(null, [
    module.if(module.i32.ne(module.i32.load8_u(0, 1, get(value)), module.i32.const(OPA_NUMBER)), no()),
    module.if(
      module.i32.eq(module.i32.load8_u(1, 1, get(value)), module.i32.const(REPR_INT)),
      module.block(null, [
        module.local.set(acc, module.i64.load(8, 8, get(value))),
        module.if(outsideInt32(module, accumulated(), accumulated()), no()),
        module.return(accumulated()),
      ]),
    ),
    module.if(module.i32.ne(module.i32.load8_u(1, 1, get(value)), module.i32.const(REPR_REF)), no()),
    module.local.set(text, module.i32.load(8, 4, get(value))),
    module.local.set(length, module.i32.load(12, 4, get(value))),
    // At most ten characters: a minus and nine digits, or ten digits, which an i64 holds whatever they are.
    module.if(module.i32.or(module.i32.eqz(get(length)), module.i32.gt_u(get(length), module.i32.const(10))), no()),
    module.if(
      module.i32.eq(module.i32.load8_u(0, 1, get(text)), module.i32.const(45 /* - */)),
      module.block(null, [
        module.if(module.i32.eq(get(length), module.i32.const(1)), no()),
        module.local.set(negative, module.i32.const(1)),
        module.local.set(at, module.i32.const(1)),
      ]),
    ),
    module.loop(
      "digits",
      module.block(null, [
        module.local.set(digit, module.i32.sub(module.i32.load8_u(0, 1, module.i32.add(get(text), get(at))), module.i32.const(48 /* 0 */))),
        module.if(module.i32.gt_u(get(digit), module.i32.const(9)), no()),
        module.local.set(acc, module.i64.add(module.i64.mul(accumulated(), i64Const(module, 10n)), module.i64.extend_u(get(digit)))),
        module.local.set(at, module.i32.add(get(at), module.i32.const(1))),
        module.br("digits", module.i32.lt_u(get(at), get(length))),
      ]),
    ),
    module.if(get(negative), module.local.set(acc, module.i64.sub(i64Const(module, 0n), accumulated()))),
    module.if(outsideInt32(module, accumulated(), accumulated()), no()),
    accumulated(),
  ], i64);
  module.addFunction(SMALL_INT, binaryen.createType([i32]), i64, [i32, i32, i32, i32, i32, i64], body);
}

/** The operation on small integers, OPA's decimal function for everything else. */
function addOperation(module: binaryen.Module, name: keyof typeof OPERATIONS, decimal: string): void {
  const [a, b] = [0, 1];
  const [x, y, result] = [2, 3, 4];
  const get = (index: number) => module.local.get(index, i64);
  const fallback = () => module.return(module.call(decimal, [module.local.get(a, i32), module.local.get(b, i32)], i32));
  const notSmall = (index: number) => module.i64.eq(get(index), i64Const(module, NOT_SMALL));
  const compute = name === "opa_arith_plus" ? module.i64.add(get(x), get(y)) : module.i64.sub(get(x), get(y));
  const body = module.block(null, [
    module.local.set(x, module.call(SMALL_INT, [module.local.get(a, i32)], i64)),
    module.if(notSmall(x), fallback()),
    module.local.set(y, module.call(SMALL_INT, [module.local.get(b, i32)], i64)),
    module.if(notSmall(y), fallback()),
    module.local.set(result, compute),
    module.if(outsideInt32(module, get(result), get(result)), fallback()),
    module.call(NUMBER_INT, [get(result)], i32),
  ], i32);
  module.addFunction(name, binaryen.createType([i32, i32]), i32, [i64, i64, i64], body);
}

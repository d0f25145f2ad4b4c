/**
 * @module binaryen-runtime
 * binaryen's JavaScript API as its runtime has it: the package's type
 * declarations give `readBinary` no features argument and leave out the
 * Function and Const helpers, so the calls the build (opa-wasm-rewrite.ts)
 * and its tests make are typed here once.
 */
import binaryen from "binaryen";

export const binaryenRuntime = binaryen as unknown as {
  readBinary(data: Uint8Array, features: binaryen.Features): binaryen.Module;
  Function: { getBody(fn: binaryen.FunctionRef): binaryen.ExpressionRef; setBody(fn: binaryen.FunctionRef, body: binaryen.ExpressionRef): void };
  Const: { setValueI32(expression: binaryen.ExpressionRef, value: number): void };
};

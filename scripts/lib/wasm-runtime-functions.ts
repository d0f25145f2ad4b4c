/**
 * @module wasm-runtime-functions
 * What every rewrite of OPA's runtime (the memo table, the builtin caches'
 * exports, the shortcuts) does before it touches a function: check that the
 * function is there with the signature OPA's runtime gives it, refusing the
 * module otherwise (OpaWasmRewriteError), and, for a shortcut, keep OPA's own
 * body under a new name so the old name can take a new body.
 */
import binaryen from "binaryen";
import { OpaWasmRewriteError } from "./opa-wasm-rewrite-error.ts";

/**
 * Refuses the module unless `name` is in it with exactly these params and
 * result. `of` names whose signature it is, for the message.
 */
export function requireSignature(module: binaryen.Module, name: string, params: readonly number[], result: number, of = "OPA's runtime"): binaryen.FunctionInfo {
  const fn = module.getFunction(name);
  if (!fn) throw new OpaWasmRewriteError(`the policy's wasm has no ${name}: not an OPA runtime this build knows`);
  const info = binaryen.getFunctionInfo(fn);
  const actual = binaryen.expandType(info.params);
  if (info.results !== result || actual.length !== params.length || actual.some((type, i) => type !== params[i])) {
    throw new OpaWasmRewriteError(`${name} does not have the signature of ${of}`);
  }
  return info;
}

/** Moves a function's body to a new name and frees the old name for a new body; returns the function as it was. */
export function keepBodyAs(module: binaryen.Module, from: string, to: string): binaryen.FunctionInfo {
  const info = binaryen.getFunctionInfo(module.getFunction(from));
  module.addFunction(to, info.params, info.results, info.vars, info.body);
  module.removeFunction(from);
  return info;
}

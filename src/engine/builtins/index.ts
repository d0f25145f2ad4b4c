/**
 * @module builtins
 * The host builtins our policies may call that OPA's wasm runtime does not
 * implement itself (opa-wasm's JS already covers sprintf, json.is_valid,
 * yaml.* and regex.split). Every builtin is wrapped so that an error makes
 * the call undefined, as `opa eval` does by default (non-strict builtin
 * errors), instead of aborting the whole evaluation.
 */
import type { Builtin, BuiltinContext } from "./context";
import { encodingBuiltins } from "./encoding";
import { hashBuiltins } from "./hashes";
import { jsonBuiltins } from "./json";
import { jwtBuiltins } from "./jwt";
import { netBuiltins } from "./net";
import { randomBuiltins } from "./random";
import { semverBuiltins } from "./semver";
import { stringBuiltins } from "./strings";
import { timeBuiltins } from "./time";
import { unitBuiltins } from "./units";

export type { BuiltinContext } from "./context";

export function createBuiltins(context: BuiltinContext): Record<string, Builtin> {
  const all: Record<string, Builtin> = {
    ...timeBuiltins(context),
    ...hashBuiltins,
    ...encodingBuiltins,
    ...jsonBuiltins,
    ...jwtBuiltins(context),
    ...netBuiltins,
    ...randomBuiltins(context),
    ...semverBuiltins,
    ...stringBuiltins,
    ...unitBuiltins,
  };
  return Object.fromEntries(
    Object.entries(all).map(([name, builtin]) => [
      name,
      (...args: unknown[]) => {
        try {
          return builtin(...args);
        } catch (error) {
          context.onError?.(name, error as Error);
          return undefined;
        }
      },
    ]),
  );
}

/** Names of every builtin implemented here, for documentation and tests. */
export const HOST_BUILTINS = Object.keys(createBuiltins({ nowNs: () => 0n, memo: new Map() })).sort();

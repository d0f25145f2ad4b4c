/**
 * @module builtins
 * The host builtins our policies may call that OPA's wasm runtime does not
 * implement itself. The evaluator (policy-instance.ts) turns a builtin that
 * throws into an undefined call, as `opa eval` does by default (non-strict
 * builtin errors), instead of aborting the whole evaluation.
 *
 * Four families stand on large libraries and are imported only for a policy
 * that calls one of them (families.ts).
 */
import { collectionBuiltins } from "./collections";
import type { Builtin, BuiltinContext } from "./context";
import { encodingBuiltins } from "./encoding";
import { LAZY_BUILTIN_FAMILIES, type BuiltinFamilyName } from "./families";
import { globBuiltins } from "./globs";
import { jsonBuiltins } from "./json";
import { netBuiltins } from "./net";
import { nodeCryptoBuiltins } from "./node-crypto";
import { printBuiltins } from "./print";
import { randomBuiltins } from "./random";
import { runtimeBuiltins } from "./runtime";
import { semverBuiltins } from "./semver";
import { sprintfBuiltins } from "./sprintf";
import { stringBuiltins } from "./strings";
import { templateBuiltins } from "./go-template";
import { timeBuiltins } from "./time";
import { unitBuiltins } from "./units";
import { uriBuiltins } from "./uri";

export type { BuiltinContext } from "./context";
export { LAZY_BUILTIN_FAMILIES, type BuiltinFamily } from "./families";

/** How each family is imported (families.ts says which builtins each provides). */
export const FAMILY_LOADERS: Record<BuiltinFamilyName, (context: BuiltinContext) => Promise<Record<string, Builtin>>> = {
  graphql: async () => (await import("./graphql")).graphqlBuiltins,
  yaml: async () => (await import("./yaml")).yamlBuiltins,
  "json-schema": async () => (await import("./json-schema")).jsonSchemaBuiltins,
  certificates: async (context) => (await import("./certificates")).certificateBuiltins(context),
};

/** Every builtin that needs no large library. */
export function coreBuiltins(context: BuiltinContext): Record<string, Builtin> {
  return {
    ...timeBuiltins(context),
    ...collectionBuiltins,
    ...globBuiltins,
    ...runtimeBuiltins(context),
    ...uriBuiltins,
    ...encodingBuiltins,
    ...jsonBuiltins,
    ...netBuiltins,
    ...nodeCryptoBuiltins(context),
    ...printBuiltins(context),
    ...randomBuiltins(context),
    ...semverBuiltins,
    ...sprintfBuiltins,
    ...stringBuiltins,
    ...templateBuiltins,
    ...unitBuiltins,
  };
}

/**
 * The builtins for a policy that imports `names`: the core, and each lazy
 * family that answers for one of them. A name no family provides is left
 * out, and the policy is refused when it loads (policy-instance.ts).
 */
export function builtinsFor(names: readonly string[], context: BuiltinContext): Promise<Record<string, Builtin>> {
  return withFamilies(
    LAZY_BUILTIN_FAMILIES.filter((family) => names.some((name) => family.covers(name))),
    context,
  );
}

/** Names of every builtin implemented here, for the capabilities file, documentation and tests. */
export async function hostBuiltinNames(): Promise<string[]> {
  return Object.keys(await withFamilies(LAZY_BUILTIN_FAMILIES, { nowNs: () => 0n, memo: new Map() })).sort();
}

/** The core builtins and those of the given families, loaded together. */
async function withFamilies(families: ReadonlyArray<{ name: BuiltinFamilyName }>, context: BuiltinContext): Promise<Record<string, Builtin>> {
  const loaded = await Promise.all(families.map((family) => FAMILY_LOADERS[family.name](context)));
  return Object.assign(coreBuiltins(context), ...loaded);
}

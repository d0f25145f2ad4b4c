/**
 * @module builtins
 * The host builtins our policies may call that OPA's wasm runtime does not
 * implement itself. The evaluator (policy-instance.ts) turns a builtin that
 * throws into an undefined call, as `opa eval` does by default (non-strict
 * builtin errors), instead of aborting the whole evaluation.
 */
import { collectionBuiltins } from "./collections";
import type { Builtin, BuiltinContext } from "./context";
import { encodingBuiltins } from "./encoding";
import { globBuiltins } from "./globs";
import { graphqlBuiltins } from "./graphql";
import { jsonBuiltins } from "./json";
import { jsonSchemaBuiltins } from "./json-schema";
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
import { yamlBuiltins } from "./yaml";

export type { BuiltinContext } from "./context";

export function createBuiltins(context: BuiltinContext): Record<string, Builtin> {
  return {
    ...timeBuiltins(context),
    ...collectionBuiltins,
    ...globBuiltins,
    ...runtimeBuiltins(context),
    ...uriBuiltins,
    ...graphqlBuiltins,
    ...encodingBuiltins,
    ...jsonBuiltins,
    ...jsonSchemaBuiltins,
    ...netBuiltins,
    ...nodeCryptoBuiltins(context),
    ...printBuiltins(context),
    ...randomBuiltins(context),
    ...semverBuiltins,
    ...sprintfBuiltins,
    ...stringBuiltins,
    ...templateBuiltins,
    ...unitBuiltins,
    ...yamlBuiltins,
  };
}

/** Names of every builtin implemented here, for the capabilities file, documentation and tests. */
export const HOST_BUILTINS = Object.keys(createBuiltins({ nowNs: () => 0n, memo: new Map() })).sort();

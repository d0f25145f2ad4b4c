/**
 * @module runtime
 * opa.runtime(): what a policy may know of the edge deciding it. OPA returns
 * its version, commit, environment and configuration; the edge returns only
 * its OPA version, location, region and the bundles deciding (digest and
 * version per layer scope), never environment variables or secrets.
 */
import type { Builtin, BuiltinContext } from "./context";

/** The OPA version whose builtins and compiler the edge implements (scripts/toolchain.mjs pins the same). */
export const EDGE_OPA_VERSION = "1.22.2";

export function runtimeBuiltins(context: BuiltinContext): Record<string, Builtin> {
  return {
    "opa.runtime": () => {
      const runtime = context.runtime?.() ?? {};
      const info: Record<string, unknown> = { version: EDGE_OPA_VERSION };
      if (runtime.location !== undefined) info.location = runtime.location;
      if (runtime.region !== undefined) info.region = runtime.region;
      info.bundles = runtime.bundles ?? {};
      return info;
    },
  };
}

/**
 * @module without-node-crypto
 * Stands in for node-crypto.ts and certificates.ts in the agent SDK's browser build, where
 * `node:crypto` does not exist: none of those builtins. A policy that calls
 * one is then refused when it loads (policy-instance.ts names the missing
 * builtins), so the agent makes no local decision with it; while the edge is
 * unreachable, the tier's fail mode decides, as for any agent without a
 * local policy. Never an evaluation in which such a call is merely undefined.
 */
import type { Builtin, BuiltinContext } from "./context";

export function nodeCryptoBuiltins(_context: BuiltinContext): Record<string, Builtin> {
  return {};
}

export function certificateBuiltins(_context: BuiltinContext): Record<string, Builtin> {
  return {};
}

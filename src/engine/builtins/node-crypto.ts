/**
 * @module node-crypto
 * The builtins built on `node:crypto` (and `node:buffer`): hashes and HMACs,
 * JWT verification and signing and AWS request signing (certificates and
 * private keys, which need them too, are in certificates.ts, loaded on demand).
 * They must be synchronous, as a builtin call is, and WebCrypto is not;
 * workerd, Node, Deno and Bun all provide `node:crypto`. A browser does not:
 * the agent SDK's browser build replaces this module with
 * without-node-crypto.ts (scripts/build-agent.ts).
 */
import { awsSignBuiltins } from "./aws-sign";
import type { Builtin, BuiltinContext } from "./context";
import { hashBuiltins } from "./hashes";
import { jwtBuiltins } from "./jwt";
import { jwtSignBuiltins } from "./jwt-sign";

export function nodeCryptoBuiltins(context: BuiltinContext): Record<string, Builtin> {
  return {
    ...awsSignBuiltins,
    ...hashBuiltins,
    ...jwtBuiltins(context),
    ...jwtSignBuiltins,
  };
}


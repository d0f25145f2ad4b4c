/**
 * @module certificates
 * X.509 certificates and private keys: the builtins that stand on an ASN.1
 * library, imported only for a policy that calls one (index.ts). Like
 * node-crypto.ts they need `node:crypto`, so the agent SDK's browser build
 * replaces this module with without-node-crypto.ts too.
 */
import type { Builtin, BuiltinContext } from "./context";
import { privateKeyBuiltins } from "./private-keys";
import { x509Builtins } from "./x509";
import { x509VerifyBuiltins } from "./x509-verify";

export function certificateBuiltins(context: BuiltinContext): Record<string, Builtin> {
  return { ...privateKeyBuiltins, ...x509Builtins, ...x509VerifyBuiltins(context) };
}

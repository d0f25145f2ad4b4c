/**
 * @module signing-key
 * The edge's Ed25519 private keys, given as JWK secrets (what `tollgate
 * keygen` writes): parsed and imported once per isolate and secret, since
 * importing costs more than signing. A secret that is not a usable key gives
 * undefined, and the caller decides what the edge cannot do without it.
 */
const imported = new Map<string, Promise<CryptoKey> | undefined>();

export function signingKeyFromSecret(secret: string | undefined): Promise<CryptoKey> | undefined {
  if (!secret) return undefined;
  if (imported.has(secret)) return imported.get(secret);
  let key: Promise<CryptoKey> | undefined;
  try {
    // Runtimes disagree on the "alg" an Ed25519 JWK may carry ("Ed25519", "EdDSA"); the curve says it all.
    const { alg: _alg, key_ops: _ops, ...jwk } = JSON.parse(secret) as JsonWebKey;
    key = crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
    key.catch(() => undefined);
  } catch {
    key = undefined;
  }
  imported.set(secret, key);
  return key;
}

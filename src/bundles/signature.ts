/**
 * @module signature
 * Ed25519 signatures over canonical JSON with WebCrypto, usable from the
 * Worker and from Node alike (both have `crypto.subtle` with Ed25519).
 */
import { toBase64Url } from "../../packages/agent/src/base64url.ts";
import { canonicalJson } from "./canonical.ts";

export { toBase64Url };

export function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export async function importPublicKey(rawBase64Url: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", fromBase64Url(rawBase64Url), { name: "Ed25519" }, false, ["verify"]);
}

export async function verifyDocument(document: unknown, signature: string, publicKey: string): Promise<boolean> {
  try {
    const key = await importPublicKey(publicKey);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, fromBase64Url(signature), new TextEncoder().encode(canonicalJson(document)));
  } catch {
    return false;
  }
}

/** Signs with a private key given as a JWK (what `tollgate keygen` writes and the store's secret holds). */
export async function signDocument(document: unknown, privateJwk: JsonWebKey): Promise<string> {
  // Runtimes disagree on the "alg" an Ed25519 JWK may carry ("Ed25519", "EdDSA"); the curve says it all.
  const { alg: _alg, key_ops: _ops, ...jwk } = privateJwk as JsonWebKey & { kid?: string };
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["sign"]);
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(canonicalJson(document)));
  return toBase64Url(new Uint8Array(signature));
}

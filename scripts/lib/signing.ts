/**
 * @module signing
 * Key generation and layer signing for the Node-side tools, with the same
 * WebCrypto Ed25519 and canonical JSON the edge verifies with.
 */
import { readFileSync } from "node:fs";
import type { LayerManifest, Signed } from "../../src/bundles/manifest.ts";
import { signDocument, toBase64Url } from "../../src/bundles/signature.ts";
import type { LayerDraft } from "./layer-build.ts";

export interface KeyPair {
  id: string;
  privateJwk: JsonWebKey;
  /** Raw Ed25519 public key, base64url: what the trust store holds. */
  publicKey: string;
}

export async function generateKeyPair(id: string): Promise<KeyPair> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const privateJwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  // The key id travels inside the JWK, so `sign` needs only the key file.
  return { id, privateJwk: { ...privateJwk, kid: id } as JsonWebKey, publicKey: toBase64Url(raw) };
}

/** Reads a private key written by `tollgate keygen`; its key id travels in the JWK's `kid`. */
export function readPrivateKey(path: string): { id: string; privateJwk: JsonWebKey } {
  const jwk = JSON.parse(readFileSync(path, "utf8")) as JsonWebKey & { kid?: string };
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || !jwk.d) throw new Error(`${path}: not an Ed25519 private key (JWK)`);
  if (!jwk.kid) throw new Error(`${path}: the key has no kid (key id)`);
  return { id: jwk.kid, privateJwk: jwk };
}

export interface SignOptions {
  version: number;
  nowMs: number;
  expiresInDays: number;
}

export async function signLayer(draft: LayerDraft, key: { id: string; privateJwk: JsonWebKey }, options: SignOptions): Promise<Signed<LayerManifest>> {
  const document: LayerManifest = {
    ...draft,
    version: options.version,
    created: new Date(options.nowMs).toISOString(),
    expires: new Date(options.nowMs + options.expiresInDays * 86_400_000).toISOString(),
    key_id: key.id,
  };
  return { document, signature: await signDocument(document, key.privateJwk) };
}

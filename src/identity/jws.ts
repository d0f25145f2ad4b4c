/**
 * @module jws
 * Compact JWS (JWT) parsing and signature verification with WebCrypto, for
 * the three algorithms a tenant's identity provider may use (EdDSA over
 * Ed25519, ES256, RS256) and for the credentials the edge mints itself.
 * The algorithm is never taken from the token alone: the caller says which
 * it accepts, and the key must be of that algorithm's type, so `alg: none`,
 * HMAC over a public key and key-type confusion all fail here.
 */
import { fromBase64Url, toBase64Url } from "../bundles/signature";

const utf8 = new TextEncoder();

export type JwsAlgorithm = "EdDSA" | "ES256" | "RS256";
export const JWS_ALGORITHMS: readonly JwsAlgorithm[] = ["EdDSA", "ES256", "RS256"];

/** Bearer tokens are small; anything larger is refused before it is decoded. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

export class TokenError extends Error {}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const SEGMENT = /^[A-Za-z0-9_-]*$/;

function jsonSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(fromBase64Url(segment)));
  } catch {
    throw new TokenError(`the token's ${what} is not base64url JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TokenError(`the token's ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Splits and decodes a compact JWS; nothing in it is trusted yet. */
export function decodeJws(token: string): DecodedJws {
  if (token.length > MAX_TOKEN_LENGTH) throw new TokenError(`the token is longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => SEGMENT.test(part)) || parts[2].length === 0) {
    throw new TokenError("the token is not a signed JWT (three base64url segments)");
  }
  const header = jsonSegment(parts[0], "header");
  // RFC 7515 §4.1.11: a token whose crit names an extension the recipient does not understand must be refused
  // (b64: false, say, makes the signed bytes mean something else). This edge understands none.
  if (header.crit !== undefined) throw new TokenError("the token's header names critical extensions (crit), which this edge does not understand");
  return {
    header,
    payload: jsonSegment(parts[1], "payload"),
    signingInput: utf8.encode(`${parts[0]}.${parts[1]}`) as Uint8Array<ArrayBuffer>,
    signature: fromBase64Url(parts[2]),
  };
}

type KeyAlgorithm = { name: "Ed25519" } | { name: "ECDSA"; namedCurve: "P-256" } | { name: "RSASSA-PKCS1-v1_5"; hash: "SHA-256" };

const IMPORT: Record<JwsAlgorithm, KeyAlgorithm> = {
  EdDSA: { name: "Ed25519" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
};

/** RSA keys shorter than this are refused (NIST SP 800-131A). */
const MIN_RSA_MODULUS_BITS = 2048;

/** Whether a JWK is a public verification key of the algorithm's type; why not, if it is not. */
export function keyProblem(jwk: JsonWebKey & { kid?: string; use?: string }, alg: JwsAlgorithm): string | undefined {
  if (jwk.d !== undefined) return "a private key may not be registered";
  if (jwk.use !== undefined && jwk.use !== "sig") return `key use is ${jwk.use}, not sig`;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes("verify")) return "the key's key_ops do not include verify";
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === "EdDSA" && jwk.alg === "Ed25519")) return `the key is for ${jwk.alg}, not ${alg}`;
  if (alg === "EdDSA" && !(jwk.kty === "OKP" && jwk.crv === "Ed25519" && typeof jwk.x === "string")) return "not an Ed25519 key";
  if (alg === "ES256" && !(jwk.kty === "EC" && jwk.crv === "P-256" && typeof jwk.x === "string" && typeof jwk.y === "string")) return "not a P-256 key";
  if (alg === "RS256") {
    if (!(jwk.kty === "RSA" && typeof jwk.n === "string" && typeof jwk.e === "string")) return "not an RSA key";
    if (fromBase64Url(jwk.n).byteLength * 8 < MIN_RSA_MODULUS_BITS) return `RSA keys must be at least ${MIN_RSA_MODULUS_BITS} bits`;
  }
  return undefined;
}

/** The algorithms a key could verify, judged by its type. */
export function algorithmsOfKey(jwk: JsonWebKey): JwsAlgorithm[] {
  return JWS_ALGORITHMS.filter((alg) => keyProblem(jwk, alg) === undefined);
}

// Importing a key costs more than verifying with it; keys repeat across tokens.
const MAX_CACHED_KEYS = 1000;
const imported = new Map<string, Promise<CryptoKey>>();

function importKey(jwk: JsonWebKey, alg: JwsAlgorithm): Promise<CryptoKey> {
  const { kty, crv, x, y, n, e } = jwk;
  const material = { kty, crv, x, y, n, e };
  const cacheKey = `${alg}:${JSON.stringify(material)}`;
  let key = imported.get(cacheKey);
  if (!key) {
    key = crypto.subtle.importKey("jwk", material, IMPORT[alg], false, ["verify"]);
    key.catch(() => imported.delete(cacheKey));
    imported.set(cacheKey, key);
    if (imported.size > MAX_CACHED_KEYS) imported.delete(imported.keys().next().value!);
  }
  return key;
}

/** Verifies the signature with `jwk` under `alg`; false (never an exception) for any mismatch. */
export async function verifySignature(jws: DecodedJws, jwk: JsonWebKey, alg: JwsAlgorithm): Promise<boolean> {
  if (keyProblem(jwk, alg) !== undefined) return false;
  try {
    const key = await importKey(jwk, alg);
    const params = alg === "ES256" ? { name: "ECDSA", hash: "SHA-256" } : IMPORT[alg];
    return await crypto.subtle.verify(params, key, jws.signature, jws.signingInput);
  } catch {
    return false;
  }
}

/**
 * A public key's RFC 7638 thumbprint (base64url SHA-256 of its required members): what names
 * the key itself, where a kid is only the provider's label for it, may be absent, and may be reused.
 */
export async function jwkThumbprint(jwk: JsonWebKey): Promise<string> {
  const { kty, crv, x, y, n, e } = jwk;
  const members = kty === "RSA" ? { e, kty, n } : kty === "EC" ? { crv, kty, x, y } : { crv, kty, x };
  return toBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(JSON.stringify(members)))));
}

/** The end of year 9999, in seconds: no credential's time lies beyond it (and a Date can still show it). */
const LAST_TIME_S = 253_402_300_799;

/**
 * Checks `exp` (required), `nbf` and `iat` against the clock, allowing
 * `skewS` either way; returns the expiry in ms.
 */
export function checkTimes(payload: Record<string, unknown>, nowMs: number, skewS: number): number {
  const now = nowMs / 1000;
  const { exp, nbf, iat } = payload;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new TokenError("the token has no exp claim");
  if (exp > LAST_TIME_S) throw new TokenError("the token's exp is past the year 9999");
  if (exp + skewS <= now) throw new TokenError("the token has expired");
  if (nbf !== undefined && (typeof nbf !== "number" || nbf - skewS > now)) throw new TokenError("the token is not valid yet (nbf)");
  if (iat !== undefined && (typeof iat !== "number" || iat - skewS > now)) throw new TokenError("the token was issued in the future (iat)");
  return exp * 1000;
}

const base64UrlJson = (value: unknown) => toBase64Url(utf8.encode(JSON.stringify(value)));

/** A compact JWS signed with an Ed25519 key (the credentials and receipts the edge issues). */
export async function signEdDsaJws(header: Record<string, unknown>, claims: unknown, key: CryptoKey): Promise<string> {
  const signingInput = `${base64UrlJson(header)}.${base64UrlJson(claims)}`;
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, utf8.encode(signingInput));
  return `${signingInput}.${toBase64Url(new Uint8Array(signature))}`;
}

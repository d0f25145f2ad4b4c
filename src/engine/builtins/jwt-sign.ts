/**
 * @module jwt-sign
 * io.jwt.encode_sign and io.jwt.encode_sign_raw: a compact JWS signed with
 * the first key of a JWK or JWK Set, for every algorithm OPA knows. Signing
 * is node:crypto's, synchronous; ECDSA signatures are re-encoded from DER to
 * JWS's r||s, and RSASSA-PSS is encoded here over a raw RSA operation, since
 * workerd's node:crypto signs only PKCS#1 v1.5 with RSA keys.
 */
import { Buffer } from "node:buffer";
import { constants, createHash, createHmac, createPrivateKey, privateEncrypt, randomBytes, sign, type KeyObject } from "node:crypto";
import { readRegoValue } from "../rego-value";
import { BuiltinError, expectString, isPlainObject, type Builtin } from "./context";
import { goJsonMarshal } from "./json";
import { ALGORITHMS, mgf1 } from "./jwt";

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

/** The first key of a JWK Set, or the JWK itself, as JSON. */
function firstJwk(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BuiltinError("failed to parse JWK");
  }
  if (!isPlainObject(parsed)) throw new BuiltinError("failed to parse JWK");
  if (Array.isArray((parsed as { keys?: unknown }).keys)) {
    const [first] = (parsed as { keys: unknown[] }).keys;
    if (!isPlainObject(first)) throw new BuiltinError("no keys found in JWK set");
    return first as Record<string, unknown>;
  }
  return parsed as Record<string, unknown>;
}

/** DER ECDSA (SEQUENCE of two INTEGERs) to the fixed-width r||s JWS uses. */
function derToP1363(der: Buffer, size: number): Buffer {
  let at = 2 + (der[1] & 0x80 ? der[1] & 0x7f : 0);
  const integer = () => {
    const length = der[at + 1];
    const bytes = der.subarray(at + 2, at + 2 + length);
    at += 2 + length;
    const trimmed = bytes[0] === 0 ? bytes.subarray(1) : bytes;
    return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
  };
  return Buffer.concat([integer(), integer()]);
}

/** RSASSA-PSS signing (RFC 8017 §9.1.1) with a salt as long as the hash. */
function signPss(hash: string, data: Buffer, key: KeyObject): Buffer {
  const modulusBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const emBits = modulusBits - 1;
  const emLength = Math.ceil(emBits / 8);
  const mHash = createHash(hash).update(data).digest();
  const hLen = mHash.length;
  const salt = randomBytes(hLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLength - 2 * hLen - 2), Buffer.from([0x01]), salt]);
  const mask = mgf1(hash, h, db.length);
  const maskedDb = Buffer.from(db.map((byte: number, i: number) => byte ^ mask[i]));
  maskedDb[0] &= 0xff >>> (8 * emLength - emBits);
  const em = Buffer.concat([maskedDb, h, Buffer.from([0xbc])]);
  const padded = Buffer.concat([Buffer.alloc(Math.ceil(modulusBits / 8) - em.length), em]);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, padded);
}

function signJws(alg: string, jwk: Record<string, unknown>, signingInput: string): Buffer {
  const spec = ALGORITHMS[alg];
  const data = Buffer.from(signingInput, "utf8");
  if (spec.family === "HS") {
    if (jwk.kty !== "oct" || typeof jwk.k !== "string") throw new BuiltinError(`${alg} needs a symmetric (oct) key`);
    return createHmac(spec.hash!, Buffer.from(jwk.k, "base64url")).update(data).digest();
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as never, format: "jwk" });
  } catch (error) {
    throw new BuiltinError(`cannot use the JWK to sign: ${(error as Error).message}`);
  }
  if (spec.family === "PS") return signPss(spec.hash!, data, key);
  if (spec.family === "ES") {
    const size = { sha256: 32, sha384: 48, sha512: 66 }[spec.hash as "sha256"];
    return derToP1363(sign(spec.hash, data, key), size);
  }
  return sign(spec.hash, data, key);
}

/** OPA's common path: the header names the algorithm; a JWT (typ absent or "JWT") must carry a JSON payload. */
function encodeSign(headerText: string, payloadText: string, keyText: string): string {
  const jwk = firstJwk(keyText);
  let header: unknown;
  try {
    header = readRegoValue(headerText, { shape: "values", strictJson: true });
  } catch {
    header = undefined;
  }
  const alg = isPlainObject(header) ? header.alg : undefined;
  if (typeof alg !== "string") throw new BuiltinError("missing or invalid 'alg' header");
  if (!ALGORITHMS[alg]) throw new BuiltinError(`unknown JWS algorithm: ${alg}`);
  const typ = isPlainObject(header) ? header.typ : undefined;
  if (typeof typ !== "string" || typ === "JWT") {
    try {
      JSON.parse(payloadText);
    } catch {
      throw new BuiltinError("type is JWT but payload is not JSON");
    }
  }
  const signingInput = `${b64url(headerText)}.${b64url(payloadText)}`;
  return `${signingInput}.${b64url(signJws(alg, jwk, signingInput))}`;
}

export const jwtSignBuiltins: Record<string, Builtin> = {
  "io.jwt.encode_sign": (headers: unknown, payload: unknown, key: unknown) =>
    encodeSign(goJsonMarshal(headers), goJsonMarshal(payload), goJsonMarshal(key)),
  "io.jwt.encode_sign_raw": (headers: unknown, payload: unknown, key: unknown) =>
    encodeSign(expectString(headers, "headers"), expectString(payload, "payload"), expectString(key, "key")),
};

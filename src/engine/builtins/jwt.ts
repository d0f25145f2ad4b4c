/**
 * @module jwt
 * io.jwt.decode, the io.jwt.verify_* family and io.jwt.decode_verify, with
 * node:crypto's synchronous verify (WebCrypto is async; builtins cannot be).
 * Keys may be a PEM public key or certificate, a JWK, or a JWK Set (valid
 * when any key verifies), as in OPA. A bad signature is `false`; a malformed
 * token or key makes the call undefined.
 */
import { Buffer } from "node:buffer";
import { constants, createHash, createHmac, createPublicKey, publicDecrypt, timingSafeEqual, verify, type KeyObject } from "node:crypto";
import { isRegoNumber, readRegoValue } from "../rego-value";
import { BuiltinError, expectNumber, expectString, isPlainObject, type Builtin, type BuiltinContext } from "./context";

interface Token {
  header: Record<string, unknown>;
  /** The payload's text: a JSON object, or another token when the header says cty "JWT". */
  payloadText: string;
  signingInput: string;
  signature: Buffer;
}

/** A JSON object from a token segment, with its numbers exact (claims may be large integers). */
function jsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = readRegoValue(text, { shape: "values", strictJson: true });
  } catch {
    throw new BuiltinError("JWT segment is not base64url JSON");
  }
  if (!isPlainObject(parsed)) throw new BuiltinError("JWT segment is not an object");
  return parsed;
}

function parseToken(value: unknown): Token {
  const parts = expectString(value, "jwt").split(".");
  if (parts.length !== 3) throw new BuiltinError("JWT must have three segments (JWE is not supported)");
  if (parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new BuiltinError("JWT segments must be base64url");
  return {
    header: jsonObject(Buffer.from(parts[0], "base64url").toString("utf8")),
    payloadText: Buffer.from(parts[1], "base64url").toString("utf8"),
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], "base64url"),
  };
}

/** RFC 7519 §7.2: a token whose header says cty "JWT" carries another token as its payload. */
function isNested(header: Record<string, unknown>, caseInsensitive: boolean): boolean {
  const cty = header.cty;
  if (typeof cty !== "string") return false;
  return caseInsensitive ? cty.toUpperCase() === "JWT" : cty === "JWT";
}

/** io.jwt.decode follows nesting like jwt.io: a quoted inner token has its quotes trimmed. */
function decodeNested(jwt: unknown): unknown[] {
  const token = parseToken(jwt);
  if (isNested(token.header, false)) return decodeNested(token.payloadText.replace(/^["']+|["']+$/g, ""));
  return [token.header, jsonObject(token.payloadText), token.signature.toString("hex")];
}

function publicKeys(material: string): KeyObject[] {
  const text = material.trim();
  try {
    if (text.startsWith("{")) {
      const parsed = JSON.parse(text) as { keys?: unknown[] };
      const jwks = Array.isArray(parsed.keys) ? parsed.keys : [parsed];
      return jwks.map((jwk) => createPublicKey({ key: jwk as never, format: "jwk" }));
    }
    return [createPublicKey(text)];
  } catch (error) {
    if (error instanceof BuiltinError) throw error;
    throw new BuiltinError(`cannot read verification key: ${(error as Error).message}`);
  }
}

type Family = "HS" | "RS" | "PS" | "ES" | "EdDSA";

export const ALGORITHMS: Record<string, { family: Family; hash: string | null }> = {
  HS256: { family: "HS", hash: "sha256" }, HS384: { family: "HS", hash: "sha384" }, HS512: { family: "HS", hash: "sha512" },
  RS256: { family: "RS", hash: "sha256" }, RS384: { family: "RS", hash: "sha384" }, RS512: { family: "RS", hash: "sha512" },
  PS256: { family: "PS", hash: "sha256" }, PS384: { family: "PS", hash: "sha384" }, PS512: { family: "PS", hash: "sha512" },
  ES256: { family: "ES", hash: "sha256" }, ES384: { family: "ES", hash: "sha384" }, ES512: { family: "ES", hash: "sha512" },
  EdDSA: { family: "EdDSA", hash: null },
};

function verifySignature(token: Token, alg: string, keyMaterial: string): boolean {
  const spec = ALGORITHMS[alg];
  if (!spec) throw new BuiltinError(`unsupported JWT algorithm ${alg}`);
  const data = Buffer.from(token.signingInput, "utf8");
  if (spec.family === "HS") {
    const expected = createHmac(spec.hash!, keyMaterial).update(data).digest();
    return expected.length === token.signature.length && timingSafeEqual(expected, token.signature);
  }
  return publicKeys(keyMaterial).some((key) => {
    try {
      if (spec.family === "PS") return verifyPss(spec.hash!, data, key, token.signature);
      if (spec.family === "ES") return verify(spec.hash, data, key, p1363ToDer(token.signature));
      return verify(spec.hash, data, key, token.signature);
    } catch {
      return false;
    }
  });
}

/**
 * RSASSA-PSS (RFC 8017 §9.1.2) on top of a raw RSA public operation: workerd's
 * node:crypto verify ignores the PSS padding option, so the encoding check is
 * done here. Salt length equals the hash length, as JWS requires.
 */
function verifyPss(hash: string, data: Buffer, key: KeyObject, signature: Buffer): boolean {
  const modulusBits = (key.asymmetricKeyDetails?.modulusLength as number | undefined) ?? 0;
  const emBits = modulusBits - 1;
  const emLength = Math.ceil(emBits / 8);
  const raw = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, signature);
  const em = raw.subarray(raw.length - emLength);
  const hLen = createHash(hash).digest().length;
  if (raw.length - emLength > 1 || em[em.length - 1] !== 0xbc || emLength < 2 * hLen + 2) return false;
  const maskedDb = em.subarray(0, emLength - hLen - 1);
  const h = em.subarray(emLength - hLen - 1, emLength - 1);
  const mask = mgf1(hash, h, maskedDb.length);
  const db = Buffer.from(maskedDb.map((byte: number, i: number) => byte ^ mask[i]));
  db[0] &= 0xff >>> (8 * emLength - emBits);
  const separator = db.length - hLen - 1;
  if (db.subarray(0, separator).some((byte: number) => byte !== 0) || db[separator] !== 0x01) return false;
  const salt = db.subarray(separator + 1);
  const expected = createHash(hash).update(Buffer.alloc(8)).update(createHash(hash).update(data).digest()).update(salt).digest();
  return timingSafeEqual(expected, h);
}

/** MGF1 (RFC 8017 §B.2.1), the mask PSS encodes with. */
export function mgf1(hash: string, seed: Buffer, length: number): Buffer {
  const mask = Buffer.alloc(length);
  for (let counter = 0, offset = 0; offset < length; counter++) {
    const block = createHash(hash).update(seed).update(Buffer.from([counter >>> 24, (counter >>> 16) & 255, (counter >>> 8) & 255, counter & 255])).digest();
    block.copy(mask, offset);
    offset += block.length;
  }
  return mask;
}

/** JWS carries ECDSA signatures as r||s; node:crypto in workerd verifies DER, so re-encode. */
function p1363ToDer(signature: Buffer): Buffer {
  const half = signature.length / 2;
  const integer = (bytes: Buffer) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    const body = trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
    return Buffer.concat([Buffer.from([0x02, body.length]), body]);
  };
  const r = integer(signature.subarray(0, half));
  const s = integer(signature.subarray(half));
  const length = r.length + s.length;
  const header = length < 0x80 ? Buffer.from([0x30, length]) : Buffer.from([0x30, 0x81, length]);
  return Buffer.concat([header, r, s]);
}

const verifier = (alg: string) => (jwt: unknown, key: unknown) => verifySignature(parseToken(jwt), alg, expectString(key, "key"));

interface Constraints {
  cert?: string;
  secret?: string;
  alg?: string;
  iss?: string;
  aud?: string;
  time?: number;
}

/** OPA checks every constraint before looking at the token: unknown keys, wrong types, a negative time or an unreadable key are errors. */
function parseConstraints(value: unknown): Constraints {
  if (!isPlainObject(value)) throw new BuiltinError("constraints must be an object");
  const constraints: Constraints = {};
  for (const [name, field] of Object.entries(value)) {
    if (name === "time") {
      if (!isRegoNumber(field)) throw new BuiltinError("token time constraint: must be a number");
      const time = expectNumber(field, "time");
      if (time < 0) throw new BuiltinError("token time constraint: must not be negative");
      constraints.time = time;
    } else if (name === "cert" || name === "secret" || name === "alg" || name === "iss" || name === "aud") {
      if (typeof field !== "string") throw new BuiltinError(`${name} constraint: must be a string`);
      if (name === "cert") publicKeys(field);
      constraints[name] = field;
    } else {
      throw new BuiltinError(`unknown token validation constraint: ${name}`);
    }
  }
  const keys = Number(constraints.cert !== undefined) + Number(!!constraints.secret);
  if (keys !== 1) throw new BuiltinError(keys > 1 ? "duplicate key constraints" : "no key constraint");
  return constraints;
}

function audienceMatches(tokenAud: unknown, wanted: unknown): boolean {
  if (tokenAud === undefined) return wanted === undefined;
  if (wanted === undefined) return false;
  const list = Array.isArray(tokenAud) ? tokenAud : [tokenAud];
  return list.includes(wanted);
}

export function jwtBuiltins(context: BuiltinContext): Record<string, Builtin> {
  const builtins: Record<string, Builtin> = {
    "io.jwt.decode": (jwt: unknown) => decodeNested(jwt),
    "io.jwt.decode_verify": (jwt: unknown, constraints: unknown) => {
      const c = parseConstraints(constraints);
      const invalid = [false, {}, {}];
      // Each nesting level is verified with the same key, down to the innermost token (RFC 7519 §7.2).
      let token = parseToken(jwt);
      for (;;) {
        const alg = token.header.alg;
        if (typeof alg !== "string" || !ALGORITHMS[alg]) return invalid;
        if (c.alg !== undefined && c.alg !== alg) return invalid;
        const family = ALGORITHMS[alg].family;
        if ((family === "HS") !== Boolean(c.secret)) return invalid;
        if (!verifySignature(token, alg, (c.secret || c.cert)!)) return invalid;
        if (!isNested(token.header, true)) break;
        token = parseToken(token.payloadText);
      }
      const payload = jsonObject(token.payloadText);
      const nowSeconds = (c.time ?? Number(context.nowNs())) / 1e9;
      const { exp, nbf, iss, aud } = payload;
      if (exp !== undefined && !isRegoNumber(exp)) throw new BuiltinError("exp value must be a number");
      if (nbf !== undefined && !isRegoNumber(nbf)) throw new BuiltinError("nbf value must be a number");
      if (c.iss !== undefined && iss !== c.iss) return invalid;
      if (!audienceMatches(aud, c.aud)) return invalid;
      if (exp !== undefined && nowSeconds >= expectNumber(exp, "exp")) return invalid;
      if (nbf !== undefined && nowSeconds < expectNumber(nbf, "nbf")) return invalid;
      return [true, token.header, payload];
    },
  };
  for (const alg of Object.keys(ALGORITHMS)) {
    builtins[`io.jwt.verify_${alg.toLowerCase()}`] = verifier(alg);
  }
  return builtins;
}

/**
 * @module private-keys
 * crypto.parse_private_keys, crypto.x509.parse_rsa_private_key and
 * crypto.x509.parse_keypair: PEM (or base64 of PEM / DER) private keys read
 * with node:crypto, answered as OPA answers: Go's key structs as JSON
 * (RSA's N, E, D, Primes and Precomputed; ECDSA's X, Y, D; Ed25519's bytes),
 * a JWK for parse_rsa_private_key, and Go's tls.Certificate for a key pair.
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { BuiltinError, expectString, type Builtin } from "./context";
import { certificatesFrom, parseCertificates } from "./x509";

const PRIVATE_KEY_BLOCKS: Record<string, "pkcs1" | "pkcs8" | "sec1"> = { "RSA PRIVATE KEY": "pkcs1", "PRIVATE KEY": "pkcs8", "EC PRIVATE KEY": "sec1" };

const big = (base64url: string | undefined) => BigInt(`0x${Buffer.from(base64url ?? "", "base64url").toString("hex") || "0"}`);

/** The private keys in PEM text, in order; blocks of other types are skipped, as OPA skips them. */
function privateKeysFromPem(text: string): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const match of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const type = PRIVATE_KEY_BLOCKS[match[1]];
    if (!type) continue;
    const der = Buffer.from(match[2].replace(/\s+/g, ""), "base64");
    try {
      keys.push(createPrivateKey({ key: der, format: "der", type }));
    } catch (error) {
      throw new BuiltinError(`x509: cannot parse ${match[1]}: ${(error as Error).message}`);
    }
  }
  return keys;
}

/** Go's crypto key structs as encoding/json writes them. */
function goPrivateKey(key: KeyObject): unknown {
  const jwk = key.export({ format: "jwk" });
  if (jwk.kty === "RSA") {
    return {
      N: big(jwk.n),
      E: Number(big(jwk.e)),
      D: big(jwk.d),
      Primes: [big(jwk.p), big(jwk.q)],
      Precomputed: { Dp: big(jwk.dp), Dq: big(jwk.dq), Qinv: big(jwk.qi), CRTValues: [] },
    };
  }
  if (jwk.kty === "EC") return { Curve: {}, X: big(jwk.x), Y: big(jwk.y), D: big(jwk.d) };
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return Buffer.concat([Buffer.from(jwk.d ?? "", "base64url"), Buffer.from(jwk.x ?? "", "base64url")]).toString("base64");
  throw new BuiltinError(`unsupported private key type ${jwk.kty}`);
}

function isBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

/** The key pair's public halves must match, as Go's tls.X509KeyPair requires (compared as JWK members). */
function matches(certificateDer: Uint8Array, key: KeyObject): boolean {
  const [leaf] = parseCertificates(Buffer.from(certificateDer).toString("base64"));
  const spki = Buffer.from(leaf.RawSubjectPublicKeyInfo as string, "base64");
  const certificateKey = createPublicKey({ key: spki, format: "der", type: "spki" }).export({ format: "jwk" });
  const privateKey = key.export({ format: "jwk" });
  return ["kty", "crv", "n", "e", "x", "y"].every((member) => certificateKey[member as "kty"] === privateKey[member as "kty"]);
}

function pemOrBase64(text: string, fallbackType: string): string {
  if (text.startsWith("-----BEGIN")) return text;
  const decoded = Buffer.from(text, "base64");
  if (!isBase64(text)) throw new BuiltinError("illegal base64 data");
  const asText = decoded.toString("latin1");
  if (asText.startsWith("-----BEGIN")) return asText;
  return `-----BEGIN ${fallbackType}-----\n${decoded.toString("base64")}\n-----END ${fallbackType}-----\n`;
}

export const privateKeyBuiltins: Record<string, Builtin> = {
  "crypto.parse_private_keys": (value: unknown) => {
    let text = expectString(value, "keys");
    if (text === "") return null;
    if (isBase64(text)) text = Buffer.from(text, "base64").toString("latin1");
    return privateKeysFromPem(text).map(goPrivateKey);
  },
  "crypto.x509.parse_rsa_private_key": (value: unknown) => {
    let text = expectString(value, "pem");
    if (text === "") throw new BuiltinError("input PEM data was empty");
    if (!text.startsWith("-----BEGIN")) {
      if (!isBase64(text)) throw new BuiltinError("illegal base64 data");
      text = Buffer.from(text, "base64").toString("latin1");
    }
    const [key] = privateKeysFromPem(text);
    return key ? key.export({ format: "jwk" }) : null;
  },
  "crypto.x509.parse_keypair": (certificate: unknown, privateKey: unknown) => {
    const certText = pemOrBase64(expectString(certificate, "cert"), "CERTIFICATE");
    const keyText = pemOrBase64(expectString(privateKey, "pem"), "PRIVATE KEY");
    const ders = certificatesFrom(certText);
    const [key] = privateKeysFromPem(keyText);
    if (!key) throw new BuiltinError("tls: failed to find any PEM data in key input");
    if (!matches(ders[0], key)) throw new BuiltinError("tls: private key does not match public key");
    return {
      Certificate: ders.map((der) => Buffer.from(der).toString("base64")),
      PrivateKey: goPrivateKey(key),
      SupportedSignatureAlgorithms: null,
      OCSPStaple: null,
      SignedCertificateTimestamps: null,
      // tls.Certificate's Leaf is Go's x509.Certificate alone, without OPA's URIStrings.
      Leaf: (({ URIStrings: _, ...leaf }) => leaf)(parseCertificates(Buffer.from(ders[0]).toString("base64"))[0]),
    };
  },
};

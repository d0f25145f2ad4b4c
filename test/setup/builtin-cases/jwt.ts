/**
 * JWT cases signed here with fresh keys (HS, RS, PS, ES, EdDSA; PEM, JWK and
 * JWKS keys), nested tokens (cty "JWT") included.
 */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { BuiltinCase } from "../../provided.d.ts";

const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

function jwt(header: Record<string, unknown>, payload: unknown, signer: (input: Buffer) => Buffer): string {
  const signingInput = `${b64(header)}.${b64(payload)}`;
  return `${signingInput}.${signer(Buffer.from(signingInput)).toString("base64url")}`;
}

const hmac = (secret: string) => (input: Buffer) => createHmac("sha256", secret).update(input).digest();

export function jwtCases(): BuiltinCase[] {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const pem = (key: KeyObject) => key.export({ type: "spki", format: "pem" }).toString();
  const claims = { sub: "agent-7", iss: "https://issuer.example", aud: "tollgate", exp: 2000000000, nbf: 1700000000 };
  const hs = jwt({ alg: "HS256", typ: "JWT" }, claims, hmac("s3cret"));
  const rs = jwt({ alg: "RS256", typ: "JWT" }, claims, (input) => sign("sha256", input, rsa.privateKey));
  const ps = jwt({ alg: "PS256", typ: "JWT" }, claims, (input) => sign("sha256", input, { key: rsa.privateKey, padding: 6, saltLength: 32 }));
  const es = jwt({ alg: "ES256", typ: "JWT" }, claims, (input) => sign("sha256", input, { key: ec.privateKey, dsaEncoding: "ieee-p1363" }));
  const eddsa = jwt({ alg: "EdDSA", typ: "JWT" }, claims, (input) => sign(null, input, ed.privateKey));
  const bigClaim = jwt({ alg: "HS256", typ: "JWT" }, "{\"n\":12345678901234567890,\"aud\":\"tollgate\"}", hmac("s3cret"));
  // A token whose payload is another token (RFC 7519 §7.2), signed with the same key at both levels.
  const jwk = JSON.stringify(rsa.publicKey.export({ format: "jwk" }));
  const jwks = JSON.stringify({ keys: [otherRsa.publicKey.export({ format: "jwk" }), rsa.publicKey.export({ format: "jwk" })] });
  const at = 1_800_000_000_000_000_000n;
  // OPA caches verified tokens within a query, so each decode_verify case gets a token of its own (a fresh jti).
  let serial = 0;
  const fresh = (alg: "HS256" | "RS256", extra: Record<string, unknown> = {}) =>
    alg === "HS256"
      ? jwt({ alg, typ: "JWT" }, { ...claims, jti: `case-${++serial}`, ...extra }, hmac("s3cret"))
      : jwt({ alg, typ: "JWT" }, { ...claims, jti: `case-${++serial}`, ...extra }, (input) => sign("sha256", input, rsa.privateKey));
  const c = (name: string, call: string, args: unknown[]): BuiltinCase => ({ name, call, args });
  const verifyCases = (alg: string, token: string, key: string) => [
    c(`jwt verify_${alg} right key`, `io.jwt.verify_${alg}`, [token, key]),
    c(`jwt verify_${alg} tampered`, `io.jwt.verify_${alg}`, [token.slice(0, -4) + "AAAA", key]),
    c(`jwt verify_${alg} garbage token is undefined`, `io.jwt.verify_${alg}`, ["a.b", key]),
    c(`jwt verify_${alg} number key is undefined`, `io.jwt.verify_${alg}`, [token, 1]),
    c(`jwt verify_${alg} other alg's token`, `io.jwt.verify_${alg}`, [hs, key]),
  ];
  const nested = jwt({ alg: "HS256", cty: "JWT" }, fresh("HS256"), hmac("s3cret"));
  const nestedQuoted = jwt({ alg: "HS256", cty: "JWT" }, JSON.stringify(fresh("HS256")), hmac("s3cret"));
  const nestedWrongInner = jwt({ alg: "HS256", cty: "JWT" }, jwt({ alg: "HS256" }, { ...claims, jti: "other" }, hmac("other")), hmac("s3cret"));
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
  const p521 = generateKeyPairSync("ec", { namedCurve: "P-521" });
  const variants: Array<[string, string, string]> = [
    ["hs384", jwt({ alg: "HS384" }, claims, (input) => createHmac("sha384", "k").update(input).digest()), "k"],
    ["hs512", jwt({ alg: "HS512" }, claims, (input) => createHmac("sha512", "k").update(input).digest()), "k"],
    ["rs384", jwt({ alg: "RS384" }, claims, (input) => sign("sha384", input, rsa.privateKey)), pem(rsa.publicKey)],
    ["rs512", jwt({ alg: "RS512" }, claims, (input) => sign("sha512", input, rsa.privateKey)), pem(rsa.publicKey)],
    ["ps384", jwt({ alg: "PS384" }, claims, (input) => sign("sha384", input, { key: rsa.privateKey, padding: 6, saltLength: 48 })), pem(rsa.publicKey)],
    ["ps512", jwt({ alg: "PS512" }, claims, (input) => sign("sha512", input, { key: rsa.privateKey, padding: 6, saltLength: 64 })), pem(rsa.publicKey)],
    ["es384", jwt({ alg: "ES384" }, claims, (input) => sign("sha384", input, { key: p384.privateKey, dsaEncoding: "ieee-p1363" })), pem(p384.publicKey)],
    ["es512", jwt({ alg: "ES512" }, claims, (input) => sign("sha512", input, { key: p521.privateKey, dsaEncoding: "ieee-p1363" })), pem(p521.publicKey)],
  ];
  return [
    ...variants.flatMap(([alg, token, key]) => verifyCases(alg, token, key)),
    c("jwt decode", "io.jwt.decode", [hs]),
    c("jwt decode garbage", "io.jwt.decode", ["not.a.jwt"]),
    c("jwt decode large claim", "io.jwt.decode", [bigClaim]),
    c("jwt decode nested", "io.jwt.decode", [nested]),
    c("jwt decode nested quoted", "io.jwt.decode", [nestedQuoted]),
    c("jwt decode number is undefined", "io.jwt.decode", [1]),
    ...verifyCases("hs256", hs, "s3cret"),
    ...verifyCases("rs256", rs, pem(rsa.publicKey)),
    c("jwt verify_rs256 wrong key", "io.jwt.verify_rs256", [rs, pem(otherRsa.publicKey)]),
    c("jwt verify_rs256 jwk", "io.jwt.verify_rs256", [rs, jwk]),
    c("jwt verify_rs256 jwks", "io.jwt.verify_rs256", [rs, jwks]),
    c("jwt verify_rs256 bad key", "io.jwt.verify_rs256", [rs, "not a key"]),
    ...verifyCases("ps256", ps, pem(rsa.publicKey)),
    ...verifyCases("es256", es, pem(ec.publicKey)),
    ...verifyCases("eddsa", eddsa, pem(ed.publicKey)),
    c("jwt decode_verify valid", "io.jwt.decode_verify", [fresh("RS256"), { cert: pem(rsa.publicKey), aud: "tollgate", iss: "https://issuer.example", time: at }]),
    c("jwt decode_verify wrong audience", "io.jwt.decode_verify", [fresh("RS256"), { cert: pem(rsa.publicKey), aud: "other", time: at }]),
    c("jwt decode_verify missing audience", "io.jwt.decode_verify", [fresh("RS256"), { cert: pem(rsa.publicKey), time: at }]),
    c("jwt decode_verify wrong issuer", "io.jwt.decode_verify", [fresh("HS256"), { secret: "s3cret", aud: "tollgate", iss: "evil", time: at }]),
    c("jwt decode_verify expired", "io.jwt.decode_verify", [fresh("HS256", { exp: 1700000001 }), { secret: "s3cret", aud: "tollgate", time: at }]),
    c("jwt decode_verify not yet valid", "io.jwt.decode_verify", [fresh("HS256"), { secret: "s3cret", aud: "tollgate", time: 1600000000 * 1e9 }]),
    c("jwt decode_verify alg mismatch", "io.jwt.decode_verify", [fresh("HS256"), { secret: "s3cret", aud: "tollgate", alg: "HS512", time: at }]),
    c("jwt decode_verify nested", "io.jwt.decode_verify", [nested, { secret: "s3cret", aud: "tollgate", time: at }]),
    c("jwt decode_verify nested inner signed by another key", "io.jwt.decode_verify", [nestedWrongInner, { secret: "s3cret", time: at }]),
    c("jwt decode_verify large claim", "io.jwt.decode_verify", [bigClaim, { secret: "s3cret", aud: "tollgate", time: at }]),
  ];
}

/**
 * io.jwt.encode_sign(_raw) cases. HMAC, RSA PKCS#1 and EdDSA signatures are
 * deterministic and compared as they are; ECDSA and PSS signatures are random,
 * so rules below sign and verify within the policy and compare the verdicts.
 */
export function jwtSigningCases(): { cases: BuiltinCase[]; rules: string } {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const jwk = (key: KeyObject) => key.export({ format: "jwk" });
  const oct = { kty: "oct", k: Buffer.from("s3cret").toString("base64url") };
  const claims = { sub: "agent-7", n: 12345678901234567890n, html: "<&>" };
  const c = (name: string, call: string, args: unknown[]): BuiltinCase => ({ name, call, args });
  const cases = [
    c("jwt encode_sign HS256", "io.jwt.encode_sign", [{ alg: "HS256", typ: "JWT" }, claims, oct]),
    c("jwt encode_sign RS256", "io.jwt.encode_sign", [{ alg: "RS256" }, claims, jwk(rsa.privateKey)]),
    c("jwt encode_sign EdDSA", "io.jwt.encode_sign", [{ alg: "EdDSA" }, claims, jwk(ed.privateKey)]),
    c("jwt encode_sign JWK set uses its first key", "io.jwt.encode_sign", [{ alg: "HS512" }, claims, { keys: [oct, jwk(rsa.privateKey)] }]),
    c("jwt encode_sign unknown alg is undefined", "io.jwt.encode_sign", [{ alg: "none" }, claims, oct]),
    c("jwt encode_sign missing alg is undefined", "io.jwt.encode_sign", [{ typ: "JWT" }, claims, oct]),
    c("jwt encode_sign_raw HS256", "io.jwt.encode_sign_raw", ['{"alg":"HS256","typ":"JWT"}', '{"sub": "x"}', JSON.stringify(oct)]),
    c("jwt encode_sign_raw not JSON with typ JWT is undefined", "io.jwt.encode_sign_raw", ['{"alg":"HS256"}', "plain text", JSON.stringify(oct)]),
    c("jwt encode_sign_raw plain text with another typ", "io.jwt.encode_sign_raw", ['{"alg":"HS256","typ":"text"}', "plain text", JSON.stringify(oct)]),
    c("jwt encode_sign_raw RS256", "io.jwt.encode_sign_raw", ['{"alg":"RS256"}', "{}", JSON.stringify(jwk(rsa.privateKey))]),
    c("jwt encode_sign_raw bad key is undefined", "io.jwt.encode_sign_raw", ['{"alg":"RS256"}', "{}", "not a key"]),
  ];
  const pem = (key: KeyObject) => JSON.stringify(key.export({ type: "spki", format: "pem" }).toString());
  const rules = `
results["jwt encode_sign ES256 verifies"] := io.jwt.verify_es256(io.jwt.encode_sign({"alg": "ES256"}, {"a": 1}, ${JSON.stringify(jwk(ec.privateKey))}), ${pem(ec.publicKey)})
results["jwt encode_sign PS256 verifies"] := io.jwt.verify_ps256(io.jwt.encode_sign({"alg": "PS256"}, {"a": 1}, ${JSON.stringify(jwk(rsa.privateKey))}), ${pem(rsa.publicKey)})
results["jwt encode_sign_raw ES256 verifies"] := io.jwt.verify_es256(io.jwt.encode_sign_raw("{\\"alg\\":\\"ES256\\"}", "{}", ${JSON.stringify(JSON.stringify(jwk(ec.privateKey)))}), ${pem(ec.publicKey)})
`;
  return { cases, rules };
}

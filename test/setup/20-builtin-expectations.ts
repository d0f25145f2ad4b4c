/**
 * Global setup (Node): a differential check of our host builtins. Every case
 * in test/fixtures/builtins/cases.json, plus JWT cases signed here with fresh
 * keys, becomes one rule of a generated Rego module. The real `opa eval`
 * computes the expected results (a case whose builtin errors is simply
 * absent, as in OPA), and the same module is compiled to wasm so the test can
 * run it through the edge's sandbox and our TypeScript builtins.
 */
import { generateKeyPairSync, createHmac, sign, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { opaBuildWasm, opaEvalMany } from "../../scripts/lib/opa.ts";
import { canonicalJson } from "../../src/engine/rego-value.ts";
import type { BuiltinCase } from "../provided.d.ts";

export const CLOCK_CASE = "clock: time.now_ns";

const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

function jwt(alg: string, payload: object, signer: (input: Buffer) => Buffer): string {
  const signingInput = `${b64({ alg, typ: "JWT" })}.${b64(payload)}`;
  return `${signingInput}.${signer(Buffer.from(signingInput)).toString("base64url")}`;
}

function jwtCases(): BuiltinCase[] {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const pem = (key: KeyObject) => key.export({ type: "spki", format: "pem" }).toString();
  const claims = { sub: "agent-7", iss: "https://issuer.example", aud: "tollgate", exp: 2000000000, nbf: 1700000000 };
  const hs = jwt("HS256", claims, (input) => createHmac("sha256", "s3cret").update(input).digest());
  const rs = jwt("RS256", claims, (input) => sign("sha256", input, rsa.privateKey));
  const ps = jwt("PS256", claims, (input) => sign("sha256", input, { key: rsa.privateKey, padding: 6, saltLength: 32 }));
  const es = jwt("ES256", claims, (input) => sign("sha256", input, { key: ec.privateKey, dsaEncoding: "ieee-p1363" }));
  const eddsa = jwt("EdDSA", claims, (input) => sign(null, input, ed.privateKey));
  const expired = jwt("HS256", { ...claims, exp: 1700000001 }, (input) => createHmac("sha256", "s3cret").update(input).digest());
  const jwk = JSON.stringify(rsa.publicKey.export({ format: "jwk" }));
  const jwks = JSON.stringify({ keys: [otherRsa.publicKey.export({ format: "jwk" }), rsa.publicKey.export({ format: "jwk" })] });
  const at = 1800000000 * 1e9;
  return [
    { name: "jwt decode", call: "io.jwt.decode", args: [hs] },
    { name: "jwt decode garbage", call: "io.jwt.decode", args: ["not.a.jwt"] },
    { name: "jwt verify_hs256 right secret", call: "io.jwt.verify_hs256", args: [hs, "s3cret"] },
    { name: "jwt verify_hs256 wrong secret", call: "io.jwt.verify_hs256", args: [hs, "guess"] },
    { name: "jwt verify_rs256 pem", call: "io.jwt.verify_rs256", args: [rs, pem(rsa.publicKey)] },
    { name: "jwt verify_rs256 wrong key", call: "io.jwt.verify_rs256", args: [rs, pem(otherRsa.publicKey)] },
    { name: "jwt verify_rs256 jwk", call: "io.jwt.verify_rs256", args: [rs, jwk] },
    { name: "jwt verify_rs256 jwks", call: "io.jwt.verify_rs256", args: [rs, jwks] },
    { name: "jwt verify_rs256 bad key", call: "io.jwt.verify_rs256", args: [rs, "not a key"] },
    { name: "jwt verify_ps256", call: "io.jwt.verify_ps256", args: [ps, pem(rsa.publicKey)] },
    { name: "jwt verify_es256", call: "io.jwt.verify_es256", args: [es, pem(ec.publicKey)] },
    { name: "jwt verify_es256 tampered", call: "io.jwt.verify_es256", args: [es.slice(0, -4) + "AAAA", pem(ec.publicKey)] },
    { name: "jwt verify_eddsa", call: "io.jwt.verify_eddsa", args: [eddsa, pem(ed.publicKey)] },
    { name: "jwt decode_verify valid", call: "io.jwt.decode_verify", args: [rs, { cert: pem(rsa.publicKey), aud: "tollgate", iss: "https://issuer.example", time: at }] },
    { name: "jwt decode_verify wrong audience", call: "io.jwt.decode_verify", args: [rs, { cert: pem(rsa.publicKey), aud: "other", time: at }] },
    { name: "jwt decode_verify missing audience", call: "io.jwt.decode_verify", args: [rs, { cert: pem(rsa.publicKey), time: at }] },
    { name: "jwt decode_verify wrong issuer", call: "io.jwt.decode_verify", args: [hs, { secret: "s3cret", aud: "tollgate", iss: "evil", time: at }] },
    { name: "jwt decode_verify expired", call: "io.jwt.decode_verify", args: [expired, { secret: "s3cret", aud: "tollgate", time: at }] },
    { name: "jwt decode_verify not yet valid", call: "io.jwt.decode_verify", args: [hs, { secret: "s3cret", aud: "tollgate", time: 1600000000 * 1e9 }] },
    { name: "jwt decode_verify alg mismatch", call: "io.jwt.decode_verify", args: [hs, { secret: "s3cret", aud: "tollgate", alg: "HS512", time: at }] },
  ];
}

/** One rule per case, keyed by case name; a builtin error leaves its key undefined. */
function regexModule(cases: BuiltinCase[]): string {
  const rules = cases.map((c, i) => {
    const args = c.args.map((_, j) => `input.cases[${i}][${j}]`).join(", ");
    return `results[${JSON.stringify(c.name)}] := ${c.call}(${args})`;
  });
  // The clock case is compared with the edge's clock in the test, not with opa's.
  rules.push(`results[${JSON.stringify(CLOCK_CASE)}] := time.now_ns()`);
  return `package builtin_cases\n\n${rules.join("\n\n")}\n`;
}

export default async function setup(project: TestProject): Promise<void> {
  const fixed = JSON.parse(readFileSync("test/fixtures/builtins/cases.json", "utf8")) as { cases: BuiltinCase[] };
  const cases = [...fixed.cases, ...jwtCases()];
  const dir = mkdtempSync(join(tmpdir(), "tollgate-builtins-"));
  try {
    writeFileSync(join(dir, "cases.rego"), regexModule(cases));
    const input = { cases: cases.map((c) => c.args) };
    const [expected] = opaEvalMany(dir, "builtin_cases/results", [input], { exact: true });
    const compiled = await opaBuildWasm(dir, "builtin_cases/results");
    project.provide("builtinCases", {
      cases,
      input,
      expected: Object.fromEntries(Object.entries(expected as Record<string, unknown>).map(([name, value]) => [name, canonicalJson(value)])),
      wasmBase64: Buffer.from(compiled.wasm).toString("base64"),
      entrypoint: compiled.entrypoint,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

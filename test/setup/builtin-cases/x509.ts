/**
 * Certificates made here with the openssl CLI (RSA, ECDSA and Ed25519 keys,
 * the extensions Go interprets, a root and a leaf), for the x509 cases.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuiltinCase } from "../../provided.d.ts";

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function verifyCases(read: (file: string) => string, dir: string): BuiltinCase[] {
  // A leaf outside the root's name constraints, and one that is not yet valid.
  openssl(dir, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "out.key", "-out", "out.csr", "-subj", "/CN=evil.example"]);
  writeFileSync(join(dir, "out.cnf"), "[outside]\nsubjectAltName=DNS:evil.example\n");
  openssl(dir, ["x509", "-req", "-in", "out.csr", "-CA", "rsa.pem", "-CAkey", "rsa.key", "-CAcreateserial", "-out", "outside.pem", "-days", "10", "-extfile", "out.cnf", "-extensions", "outside"]);
  const v = (label: string, args: unknown[]): BuiltinCase => ({ name: `crypto.x509.parse_and_verify_certificates: ${label}`, call: "crypto.x509.parse_and_verify_certificates", args });
  const w = (label: string, args: unknown[]): BuiltinCase => ({ name: `crypto.x509.parse_and_verify_certificates_with_options: ${label}`, call: "crypto.x509.parse_and_verify_certificates_with_options", args });
  const chain = read("rsa.pem") + read("leaf.pem");
  const future = BigInt(Date.now() + 400 * 86_400_000) * 1_000_000n;
  return [
    v("root and leaf", [chain]),
    v("leaf first is not a chain", [read("leaf.pem") + read("rsa.pem")]),
    v("single certificate", [read("rsa.pem")]),
    v("leaf outside name constraints", [read("rsa.pem") + read("outside.pem")]),
    v("unrelated root", [read("ec.pem") + read("leaf.pem")]),
    v("garbage", ["nope"]),
    v("number is undefined", [1]),
    w("DNS name matches", [chain, { DNSName: "leaf.edge.example" }]),
    w("DNS name differs", [chain, { DNSName: "other.edge.example" }]),
    w("client auth usage", [chain, { KeyUsages: ["KeyUsageClientAuth"] }]),
    w("code signing usage refused by the root", [chain, { KeyUsages: ["KeyUsageCodeSigning"] }]),
    w("expired at a later time", [chain, { CurrentTime: future }]),
    w("invalid usage name is undefined", [chain, { KeyUsages: ["Nope"] }]),
    w("unknown option is undefined", [chain, { Nope: 1 }]),
    w("garbage certificates", ["nope", { Nope: 1 }]),
  ];
}

function requestCases(read: (file: string) => string, dir: string): BuiltinCase[] {
  openssl(dir, ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "csr.key", "-out", "rich.csr", "-subj", "/C=DE/O=Tollgate/CN=csr.example",
    "-addext", "subjectAltName=DNS:csr.example,IP:10.0.0.2,email:a@csr.example,URI:https://csr.example/x", "-addext", "keyUsage=critical,digitalSignature"]);
  openssl(dir, ["req", "-in", "rich.csr", "-outform", "DER", "-out", "rich.der"]);
  const r = (label: string, args: unknown[]): BuiltinCase => ({ name: `crypto.x509.parse_certificate_request: ${label}`, call: "crypto.x509.parse_certificate_request", args });
  return [
    r("rsa with extensions", [read("rich.csr")]),
    r("ecdsa", [read("leaf.csr")]),
    r("base64 DER", [readFileSync(join(dir, "rich.der")).toString("base64")]),
    r("base64 of PEM", [Buffer.from(read("leaf.csr")).toString("base64")]),
    r("certificate PEM is undefined", [Buffer.from(read("ec.pem")).toString("base64")]),
    r("garbage is undefined", ["%%%"]),
  ];
}

function keyCases(read: (file: string) => string): BuiltinCase[] {
  const k = (call: string, label: string, args: unknown[]): BuiltinCase => ({ name: `${call}: ${label}`, call, args });
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  return [
    k("crypto.parse_private_keys", "pkcs8 rsa, ec and ed25519", [read("rsa.key") + read("ec.key") + read("ed.key")]),
    k("crypto.parse_private_keys", "pkcs1 and sec1", [read("pkcs1.key") + read("sec1.key")]),
    k("crypto.parse_private_keys", "base64 of PEM", [b64(read("sec1.key"))]),
    k("crypto.parse_private_keys", "certificates only", [read("ec.pem")]),
    k("crypto.parse_private_keys", "empty", [""]),
    k("crypto.parse_private_keys", "number is undefined", [1]),
    k("crypto.x509.parse_rsa_private_key", "pkcs1", [read("pkcs1.key")]),
    k("crypto.x509.parse_rsa_private_key", "pkcs8", [read("rsa.key")]),
    k("crypto.x509.parse_rsa_private_key", "base64", [b64(read("pkcs1.key"))]),
    k("crypto.x509.parse_rsa_private_key", "ec key", [read("sec1.key")]),
    k("crypto.x509.parse_rsa_private_key", "empty is undefined", [""]),
    k("crypto.x509.parse_rsa_private_key", "not base64 is undefined", ["%%%"]),
    k("crypto.x509.parse_keypair", "rsa", [read("rsa.pem"), read("rsa.key")]),
    k("crypto.x509.parse_keypair", "ecdsa", [read("ec.pem"), read("ec.key")]),
    k("crypto.x509.parse_keypair", "base64 PEM", [b64(read("ed.pem")), b64(read("ed.key"))]),
    k("crypto.x509.parse_keypair", "mismatched is undefined", [read("rsa.pem"), read("ec.key")]),
    k("crypto.x509.parse_keypair", "garbage is undefined", ["nope", "nope"]),
  ];
}

export function x509Cases(): BuiltinCase[] {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-x509-"));
  try {
    writeFileSync(
      join(dir, "ext.cnf"),
      [
        "[rich]",
        "subjectAltName=DNS:edge.example,DNS:*.edge.example,IP:10.0.0.1,IP:2001:db8::1,email:ops@edge.example,URI:spiffe://tollgate/agent?x=1#f",
        "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        "extendedKeyUsage=serverAuth,clientAuth,1.2.3.4",
        "basicConstraints=critical,CA:true,pathlen:0",
        "authorityInfoAccess=OCSP;URI:http://ocsp.edge.example,caIssuers;URI:http://ca.edge.example/ca.crt",
        "crlDistributionPoints=URI:http://crl.edge.example/ca.crl",
        "certificatePolicies=1.2.3.4.5,2.23.140.1.2.1",
        "nameConstraints=critical,permitted;DNS:.edge.example,permitted;IP:10.0.0.0/255.0.0.0,excluded;email:.bad.example",
        "subjectKeyIdentifier=hash",
        "[leaf]",
        "subjectAltName=DNS:leaf.edge.example",
        "basicConstraints=CA:false",
      ].join("\n"),
    );
    const subject = "/C=DE/ST=Berlin/L=Berlin/O=Tollgate/OU=Edge/OU=Policy/CN=edge.example/serialNumber=42/postalCode=10115";
    openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.pem", "-days", "30", "-subj", subject, "-extensions", "rich", "-config", "ext.cnf"]);
    openssl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout", "ec.key", "-out", "ec.pem", "-days", "30", "-subj", "/CN=ec.example"]);
    openssl(dir, ["req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", "ed.key", "-out", "ed.pem", "-days", "30", "-subj", "/O=Ed/CN=ed.example"]);
    openssl(dir, ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=leaf.edge.example"]);
    openssl(dir, ["x509", "-req", "-in", "leaf.csr", "-CA", "rsa.pem", "-CAkey", "rsa.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "10", "-extfile", "ext.cnf", "-extensions", "leaf"]);
    openssl(dir, ["x509", "-in", "ec.pem", "-outform", "DER", "-out", "ec.der"]);
    openssl(dir, ["genrsa", "-traditional", "-out", "pkcs1.key", "1024"]);
    openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "sec1.key"]);
    const read = (file: string) => readFileSync(join(dir, file), "utf8");
    const rsa = read("rsa.pem");
    const chain = rsa + read("leaf.pem");
    const der = readFileSync(join(dir, "ec.der")).toString("base64");
    const c = (label: string, args: unknown[]): BuiltinCase => ({ name: `crypto.x509.parse_certificates: ${label}`, call: "crypto.x509.parse_certificates", args });
    return [
      c("rsa with every extension", [rsa]),
      c("ecdsa P-384", [read("ec.pem")]),
      c("ed25519", [read("ed.pem")]),
      c("chain of two", [chain]),
      c("base64 DER", [der]),
      c("base64 of PEM", [Buffer.from(read("ed.pem")).toString("base64")]),
      c("private key PEM is undefined", [read("rsa.key")]),
      c("garbage is undefined", ["not a certificate"]),
      c("truncated DER is undefined", [der.slice(0, 40)]),
      c("number is undefined", [1]),
      ...keyCases(read),
      ...verifyCases(read, dir),
      ...requestCases(read, dir),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

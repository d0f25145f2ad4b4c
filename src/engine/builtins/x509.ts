/**
 * @module x509
 * crypto.x509.parse_certificates: certificates read with @peculiar/asn1-x509
 * and answered in the shape OPA answers, which is Go's x509.Certificate as
 * JSON (every exported field, Go's enum numbers for algorithms and key
 * usages, raw DER parts in base64, large integers exact) plus OPA's
 * URIStrings. Public keys are read with node:crypto, which is synchronous
 * (builtins cannot await WebCrypto).
 */
import { Buffer } from "node:buffer";
import { createPublicKey } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CertificatePolicies,
  CRLDistributionPoints,
  ExtendedKeyUsage,
  Extensions,
  GeneralNames,
  KeyUsage,
  Name,
  NameConstraints,
  SubjectKeyIdentifier,
  type GeneralName,
} from "@peculiar/asn1-x509";
import { BuiltinError, expectString, type Builtin } from "./context";
import { parseIPv4, parseIPv6 } from "./net";
import { parseUrl } from "./uri";

const oidArray = (oid: string) => oid.split(".").map(Number);
const base64 = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString("base64");

/** Go's x509.SignatureAlgorithm numbers by OID. */
const SIGNATURE_ALGORITHMS: Record<string, number> = {
  "1.2.840.113549.1.1.2": 1,
  "1.2.840.113549.1.1.4": 2,
  "1.2.840.113549.1.1.5": 3,
  "1.2.840.113549.1.1.11": 4,
  "1.2.840.113549.1.1.12": 5,
  "1.2.840.113549.1.1.13": 6,
  "1.2.840.10040.4.3": 7,
  "2.16.840.1.101.3.4.3.2": 8,
  "1.2.840.10045.4.1": 9,
  "1.2.840.10045.4.3.2": 10,
  "1.2.840.10045.4.3.3": 11,
  "1.2.840.10045.4.3.4": 12,
  "1.3.101.112": 16,
};
/** RSASSA-PSS by its hash: SHA-256, -384, -512. */
const PSS_BY_HASH: Record<string, number> = { "2.16.840.1.101.3.4.2.1": 13, "2.16.840.1.101.3.4.2.2": 14, "2.16.840.1.101.3.4.2.3": 15 };
const PUBLIC_KEY_ALGORITHMS: Record<string, number> = { "1.2.840.113549.1.1.1": 1, "1.2.840.10040.4.1": 2, "1.2.840.10045.2.1": 3, "1.3.101.112": 4 };
/** Go's x509.ExtKeyUsage numbers by OID. */
const EXT_KEY_USAGES: Record<string, number> = {
  "2.5.29.37.0": 0,
  "1.3.6.1.5.5.7.3.1": 1,
  "1.3.6.1.5.5.7.3.2": 2,
  "1.3.6.1.5.5.7.3.3": 3,
  "1.3.6.1.5.5.7.3.4": 4,
  "1.3.6.1.5.5.7.3.5": 5,
  "1.3.6.1.5.5.7.3.6": 6,
  "1.3.6.1.5.5.7.3.7": 7,
  "1.3.6.1.5.5.7.3.8": 8,
  "1.3.6.1.5.5.7.3.9": 9,
  "1.3.6.1.4.1.311.10.3.3": 10,
  "2.16.840.1.113730.4.1": 11,
  "1.3.6.1.4.1.311.2.1.22": 12,
  "1.3.6.1.4.1.311.61.1.1": 13,
};
/** Extensions Go interprets; any other critical extension is listed as unhandled. */
const HANDLED_EXTENSIONS = new Set(["2.5.29.15", "2.5.29.19", "2.5.29.17", "2.5.29.30", "2.5.29.31", "2.5.29.35", "2.5.29.14", "2.5.29.37", "2.5.29.32", "2.5.29.33", "2.5.29.36", "2.5.29.54", "1.3.6.1.5.5.7.1.1"]);

/** The DER element starting at `offset`: where its content starts and where it ends. */
function element(der: Uint8Array, offset: number): { tag: number; content: number; end: number } {
  const tag = der[offset];
  let length = der[offset + 1];
  let content = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[content + i];
    content += bytes;
  }
  if (content + length > der.length) throw new BuiltinError("x509: malformed DER");
  return { tag, content, end: content + length };
}

/** The exact DER of the parts Go exposes as Raw* fields. */
function rawParts(der: Uint8Array) {
  const certificate = element(der, 0);
  const tbs = element(der, certificate.content);
  const children: Array<{ start: number; end: number; tag: number }> = [];
  for (let at = tbs.content; at < tbs.end; ) {
    const child = element(der, at);
    children.push({ start: at, end: child.end, tag: child.tag });
    at = child.end;
  }
  // An explicit [0] version comes first when present.
  const offset = children[0]?.tag === 0xa0 ? 1 : 0;
  const slice = (i: number) => der.subarray(children[offset + i].start, children[offset + i].end);
  return {
    tbs: der.subarray(0 + certificate.content, tbs.end),
    issuer: slice(2),
    subject: slice(4),
    spki: slice(5),
  };
}

const NAME_FIELDS: Record<string, string> = {
  "2.5.4.6": "Country",
  "2.5.4.10": "Organization",
  "2.5.4.11": "OrganizationalUnit",
  "2.5.4.7": "Locality",
  "2.5.4.8": "Province",
  "2.5.4.9": "StreetAddress",
  "2.5.4.17": "PostalCode",
};

/** Go's pkix.Name, as FillFromRDNSequence fills it. */
function pkixName(name: Name): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Country: null,
    Organization: null,
    OrganizationalUnit: null,
    Locality: null,
    Province: null,
    StreetAddress: null,
    PostalCode: null,
    SerialNumber: "",
    CommonName: "",
    Names: [] as unknown[],
    ExtraNames: null,
  };
  for (const rdn of name) {
    for (const attribute of rdn) {
      const value = attribute.value.toString();
      (out.Names as unknown[]).push({ Type: oidArray(attribute.type), Value: value });
      const field = NAME_FIELDS[attribute.type];
      if (field) out[field] = [...((out[field] as string[] | null) ?? []), value];
      else if (attribute.type === "2.5.4.3") out.CommonName = value;
      else if (attribute.type === "2.5.4.5") out.SerialNumber = value;
    }
  }
  if ((out.Names as unknown[]).length === 0) out.Names = null;
  return out;
}

/** Go's net.IP text: dotted IPv4 (also for IPv4-mapped), RFC 5952 IPv6. */
function ipText(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join(".");
  if (bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return [...bytes.subarray(12)].join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] << 8) | bytes[2 * i + 1]).toString(16));
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  return best < 0 ? groups.join(":") : `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

/** An address as asn1-x509 gives it (text) back to its bytes. */
function ipBytes(text: string): Uint8Array {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return Uint8Array.from([24n, 16n, 8n, 0n], (shift) => Number((v4 >> shift) & 0xffn));
  const v6 = parseIPv6(text);
  if (v6 === undefined) throw new BuiltinError(`x509: cannot read IP address ${text}`);
  return Uint8Array.from({ length: 16 }, (_, i) => Number((v6 >> BigInt((15 - i) * 8)) & 0xffn));
}

/** Go's url.URL as JSON. */
function urlStruct(text: string): Record<string, unknown> {
  const url = parseUrl(text);
  return {
    Scheme: url.scheme,
    Opaque: url.opaque,
    User: url.hasUser ? {} : null,
    Host: url.host,
    Path: url.path,
    RawPath: url.rawPath,
    OmitHost: url.omitHost,
    ForceQuery: url.forceQuery,
    RawQuery: url.rawQuery,
    Fragment: url.fragment,
    RawFragment: url.rawFragment,
  };
}

function publicKey(spki: Uint8Array, algorithm: number): unknown {
  if (algorithm === 4) return base64(spki.subarray(spki.length - 32));
  const jwk = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }).export({ format: "jwk" });
  const big = (value: string | undefined) => BigInt(`0x${Buffer.from(value ?? "", "base64url").toString("hex") || "0"}`);
  if (algorithm === 1) return { N: big(jwk.n), E: Number(big(jwk.e)) };
  if (algorithm === 3) return { Curve: {}, X: big(jwk.x), Y: big(jwk.y) };
  return null;
}

const goTime = (date: Date) => date.toISOString().replace(/\.000Z$/, "Z");

function serialNumber(bytes: ArrayBuffer): bigint {
  const view = new Uint8Array(bytes);
  let value = BigInt(`0x${Buffer.from(view).toString("hex") || "0"}`);
  if (view.length > 0 && view[0] & 0x80) value -= 1n << BigInt(view.length * 8);
  return value;
}

function generalNames(names: GeneralName[], out: Record<string, unknown>): void {
  const push = (field: string, value: unknown) => (out[field] = [...((out[field] as unknown[] | null) ?? []), value]);
  for (const name of names) {
    if (name.dNSName !== undefined) push("DNSNames", name.dNSName);
    else if (name.rfc822Name !== undefined) push("EmailAddresses", name.rfc822Name);
    else if (name.iPAddress !== undefined) push("IPAddresses", ipText(ipBytes(name.iPAddress)));
    else if (name.uniformResourceIdentifier !== undefined) push("URIs", urlStruct(name.uniformResourceIdentifier));
  }
}

/** Go's SignatureAlgorithm number; RSASSA-PSS is told apart by the hash in its parameters. */
function signatureAlgorithmNumber(algorithm: AlgorithmIdentifier): number {
  if (algorithm.algorithm !== "1.2.840.113549.1.1.10") return SIGNATURE_ALGORITHMS[algorithm.algorithm] ?? 0;
  if (!algorithm.parameters) return 0;
  const hash = /06 09 60 86 48 01 65 03 04 02 0(\d)/.exec(Buffer.from(algorithm.parameters).toString("hex").replace(/(..)/g, "$1 "));
  return hash ? (PSS_BY_HASH[`2.16.840.1.101.3.4.2.${hash[1]}`] ?? 0) : 0;
}

function describe(der: Uint8Array): Record<string, unknown> {
  const certificate = AsnConvert.parse(der, Certificate);
  const tbs = certificate.tbsCertificate;
  const raw = rawParts(der);
  const signatureAlgorithm = signatureAlgorithmNumber(certificate.signatureAlgorithm);
  const publicKeyAlgorithm = PUBLIC_KEY_ALGORITHMS[tbs.subjectPublicKeyInfo.algorithm.algorithm] ?? 0;
  const out: Record<string, unknown> = {
    Raw: base64(der),
    RawTBSCertificate: base64(raw.tbs),
    RawSubjectPublicKeyInfo: base64(raw.spki),
    RawSubject: base64(raw.subject),
    RawIssuer: base64(raw.issuer),
    Signature: base64(certificate.signatureValue),
    SignatureAlgorithm: signatureAlgorithm,
    PublicKeyAlgorithm: publicKeyAlgorithm,
    PublicKey: publicKey(raw.spki, publicKeyAlgorithm),
    Version: tbs.version + 1,
    SerialNumber: serialNumber(tbs.serialNumber),
    Issuer: pkixName(tbs.issuer),
    Subject: pkixName(tbs.subject),
    NotBefore: goTime(tbs.validity.notBefore.getTime()),
    NotAfter: goTime(tbs.validity.notAfter.getTime()),
    KeyUsage: 0,
    Extensions: null,
    ExtraExtensions: null,
    UnhandledCriticalExtensions: null,
    ExtKeyUsage: null,
    UnknownExtKeyUsage: null,
    BasicConstraintsValid: false,
    IsCA: false,
    MaxPathLen: 0,
    MaxPathLenZero: false,
    SubjectKeyId: null,
    AuthorityKeyId: null,
    OCSPServer: null,
    IssuingCertificateURL: null,
    DNSNames: null,
    EmailAddresses: null,
    IPAddresses: null,
    URIs: null,
    PermittedDNSDomainsCritical: false,
    PermittedDNSDomains: null,
    ExcludedDNSDomains: null,
    PermittedIPRanges: null,
    ExcludedIPRanges: null,
    PermittedEmailAddresses: null,
    ExcludedEmailAddresses: null,
    PermittedURIDomains: null,
    ExcludedURIDomains: null,
    CRLDistributionPoints: null,
    PolicyIdentifiers: null,
    Policies: null,
    InhibitAnyPolicy: 0,
    InhibitAnyPolicyZero: false,
    InhibitPolicyMapping: 0,
    InhibitPolicyMappingZero: false,
    RequireExplicitPolicy: 0,
    RequireExplicitPolicyZero: false,
    PolicyMappings: null,
  };
  const extensions = tbs.extensions ?? [];
  if (extensions.length > 0) {
    out.Extensions = extensions.map((e) => ({ Id: oidArray(e.extnID), Critical: e.critical, Value: base64(e.extnValue.buffer) }));
  }
  for (const extension of extensions) {
    const value = extension.extnValue.buffer;
    switch (extension.extnID) {
      case "2.5.29.15": {
        const bits = new Uint8Array(AsnConvert.parse(value, KeyUsage).value);
        let usage = 0;
        for (let i = 0; i < 9; i++) if ((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) usage |= 1 << i;
        out.KeyUsage = usage;
        break;
      }
      case "2.5.29.19": {
        const constraints = AsnConvert.parse(value, BasicConstraints);
        out.BasicConstraintsValid = true;
        out.IsCA = constraints.cA;
        out.MaxPathLen = constraints.pathLenConstraint ?? -1;
        out.MaxPathLenZero = constraints.pathLenConstraint === 0;
        break;
      }
      case "2.5.29.17":
        generalNames(AsnConvert.parse(value, GeneralNames), out);
        break;
      case "2.5.29.14":
        out.SubjectKeyId = base64(AsnConvert.parse(value, SubjectKeyIdentifier).buffer);
        break;
      case "2.5.29.35": {
        const id = AsnConvert.parse(value, AuthorityKeyIdentifier).keyIdentifier;
        if (id) out.AuthorityKeyId = base64(id.buffer);
        break;
      }
      case "2.5.29.37":
        for (const oid of AsnConvert.parse(value, ExtendedKeyUsage)) {
          if (EXT_KEY_USAGES[oid] !== undefined) out.ExtKeyUsage = [...((out.ExtKeyUsage as number[] | null) ?? []), EXT_KEY_USAGES[oid]];
          else out.UnknownExtKeyUsage = [...((out.UnknownExtKeyUsage as number[][] | null) ?? []), oidArray(oid)];
        }
        break;
      case "1.3.6.1.5.5.7.1.1":
        for (const access of AsnConvert.parse(value, AuthorityInfoAccessSyntax)) {
          const uri = access.accessLocation.uniformResourceIdentifier;
          if (uri === undefined) continue;
          const field = access.accessMethod === "1.3.6.1.5.5.7.48.1" ? "OCSPServer" : access.accessMethod === "1.3.6.1.5.5.7.48.2" ? "IssuingCertificateURL" : undefined;
          if (field) out[field] = [...((out[field] as string[] | null) ?? []), uri];
        }
        break;
      case "2.5.29.31":
        for (const point of AsnConvert.parse(value, CRLDistributionPoints)) {
          for (const name of point.distributionPoint?.fullName ?? []) {
            if (name.uniformResourceIdentifier !== undefined) out.CRLDistributionPoints = [...((out.CRLDistributionPoints as string[] | null) ?? []), name.uniformResourceIdentifier];
          }
        }
        break;
      case "2.5.29.32": {
        const oids = AsnConvert.parse(value, CertificatePolicies).map((policy) => policy.policyIdentifier);
        out.PolicyIdentifiers = oids.map(oidArray);
        out.Policies = oids;
        break;
      }
      case "2.5.29.30": {
        const constraints = AsnConvert.parse(value, NameConstraints);
        out.PermittedDNSDomainsCritical = extension.critical;
        const collect = (subtrees: { base: GeneralName }[] | undefined, prefix: "Permitted" | "Excluded") => {
          for (const { base } of subtrees ?? []) {
            const push = (field: string, item: unknown) => (out[`${prefix}${field}`] = [...((out[`${prefix}${field}`] as unknown[] | null) ?? []), item]);
            if (base.dNSName !== undefined) push("DNSDomains", base.dNSName);
            else if (base.rfc822Name !== undefined) push("EmailAddresses", base.rfc822Name);
            else if (base.uniformResourceIdentifier !== undefined) push("URIDomains", base.uniformResourceIdentifier);
            else if (base.iPAddress !== undefined) {
              const [address, prefix] = base.iPAddress.split("/");
              const ip = ipBytes(address);
              const bits = Number(prefix ?? ip.length * 8);
              const maskBytes = Uint8Array.from({ length: ip.length }, (_, i) => (0xff << (8 - Math.min(8, Math.max(0, bits - i * 8)))) & 0xff);
              push("IPRanges", { IP: ipText(ip), Mask: base64(maskBytes) });
            }
          }
        };
        collect(constraints.permittedSubtrees, "Permitted");
        collect(constraints.excludedSubtrees, "Excluded");
        break;
      }
    }
    if (extension.critical && !HANDLED_EXTENSIONS.has(extension.extnID)) {
      out.UnhandledCriticalExtensions = [...((out.UnhandledCriticalExtensions as number[][] | null) ?? []), oidArray(extension.extnID)];
    }
  }
  // OPA adds the URIs as strings beside Go's structs.
  const uris = (tbs.extensions ?? []).filter((e) => e.extnID === "2.5.29.17").flatMap((e) => AsnConvert.parse(e.extnValue.buffer, GeneralNames).filter((n) => n.uniformResourceIdentifier !== undefined).map((n) => n.uniformResourceIdentifier!));
  out.URIStrings = uris.length > 0 ? uris : null;
  return out;
}

/** PEM blocks of one type, in order; OPA refuses a PEM block of another type among certificates. */
function pemBlocks(text: string, type: string): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const match of text.matchAll(pattern)) {
    if (match[1] !== type) throw new BuiltinError(`PEM block type is '${match[1]}', expected ${type}`);
    blocks.push(new Uint8Array(Buffer.from(match[2].replace(/\s+/g, ""), "base64")));
  }
  if (blocks.length === 0) throw new BuiltinError("failed to find any PEM data in input");
  return blocks;
}

/** Consecutive DER certificates, as Go's x509.ParseCertificates reads them. */
function derCertificates(der: Uint8Array): Uint8Array[] {
  const certificates: Uint8Array[] = [];
  for (let at = 0; at < der.length; ) {
    const end = element(der, at).end;
    certificates.push(der.subarray(at, end));
    at = end;
  }
  return certificates;
}

/** OPA's input forms: PEM, base64 of DER, or base64 of PEM. */
export function certificatesFrom(text: string): Uint8Array[] {
  if (text.startsWith("-----BEGIN")) return pemBlocks(text, "CERTIFICATE");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new BuiltinError("illegal base64 data");
  const decoded = Buffer.from(text, "base64");
  if (decoded.subarray(0, 10).toString("latin1") === "-----BEGIN") return pemBlocks(decoded.toString("latin1"), "CERTIFICATE");
  return derCertificates(new Uint8Array(decoded));
}

export function parseCertificates(text: string): Array<Record<string, unknown>> {
  return certificatesFrom(text).map((der) => {
    try {
      return describe(der);
    } catch (error) {
      if (error instanceof BuiltinError) throw error;
      throw new BuiltinError(`x509: malformed certificate: ${(error as Error).message}`);
    }
  });
}

/** The children of a DER SEQUENCE (or SET) as [start, end) ranges. */
function children(der: Uint8Array, parent: { content: number; end: number }): Array<{ start: number; end: number; tag: number; content: number }> {
  const out = [];
  for (let at = parent.content; at < parent.end; ) {
    const child = element(der, at);
    out.push({ start: at, end: child.end, tag: child.tag, content: child.content });
    at = child.end;
  }
  return out;
}

const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

/** Go's x509.CertificateRequest as JSON, for a DER certification request (PKCS #10). */
function describeRequest(der: Uint8Array): Record<string, unknown> {
  const request = element(der, 0);
  const [info, algorithm, signature] = children(der, request);
  const [version, subject, spki, attributes] = children(der, info);
  const slice = (part: { start: number; end: number }) => der.subarray(part.start, part.end);
  const publicKeyAlgorithm = PUBLIC_KEY_ALGORITHMS[AsnConvert.parse(slice(children(der, spki)[0]), AlgorithmIdentifier).algorithm] ?? 0;
  const out: Record<string, unknown> = {
    Raw: base64(der),
    RawTBSCertificateRequest: base64(slice(info)),
    RawSubjectPublicKeyInfo: base64(slice(spki)),
    RawSubject: base64(slice(subject)),
    Version: der[version.content],
    Signature: base64(der.subarray(signature.content + 1, signature.end)),
    SignatureAlgorithm: signatureAlgorithmNumber(AsnConvert.parse(slice(algorithm), AlgorithmIdentifier)),
    PublicKeyAlgorithm: publicKeyAlgorithm,
    PublicKey: publicKey(slice(spki), publicKeyAlgorithm),
    Subject: pkixName(AsnConvert.parse(slice(subject), Name)),
    Attributes: null,
    Extensions: null,
    ExtraExtensions: null,
    DNSNames: null,
    EmailAddresses: null,
    IPAddresses: null,
    URIs: null,
  };
  // Go's (deprecated) Attributes list the extension request's extensions as type/value pairs; other attributes are skipped.
  for (const attribute of attributes && attributes.tag === 0xa0 ? children(der, attributes) : []) {
    const [type, values] = children(der, attribute);
    const typeOid = oidFromDer(slice(type));
    if (typeOid !== EXTENSION_REQUEST) continue;
    const [sequence] = children(der, values);
    const extensions = AsnConvert.parse(slice(sequence), Extensions);
    out.Attributes = [
      ...((out.Attributes as unknown[] | null) ?? []),
      { Type: oidArray(EXTENSION_REQUEST), Value: [extensions.map((e) => ({ Type: oidArray(e.extnID), Value: e.critical ? true : base64(e.extnValue.buffer) }))] },
    ];
    out.Extensions = extensions.map((e) => ({ Id: oidArray(e.extnID), Critical: e.critical, Value: base64(e.extnValue.buffer) }));
    for (const extension of extensions) {
      if (extension.extnID === "2.5.29.17") generalNames(AsnConvert.parse(extension.extnValue.buffer, GeneralNames), out);
    }
  }
  return out;
}

/** An OBJECT IDENTIFIER's dotted form from its DER encoding. */
function oidFromDer(der: Uint8Array): string {
  const { content, end } = element(der, 0);
  const parts: number[] = [];
  let value = 0;
  for (let i = content; i < end; i++) {
    value = value * 128 + (der[i] & 0x7f);
    if (!(der[i] & 0x80)) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    }
  }
  return parts.join(".");
}

function parseRequest(text: string): Record<string, unknown> {
  let bytes: Uint8Array;
  if (text.startsWith("-----BEGIN CERTIFICATE REQUEST-----")) bytes = new TextEncoder().encode(text);
  else {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new BuiltinError("illegal base64 data");
    bytes = new Uint8Array(Buffer.from(text, "base64"));
  }
  const asText = Buffer.from(bytes).toString("latin1");
  const block = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(asText);
  if (block && block[1] !== "CERTIFICATE REQUEST") throw new BuiltinError("invalid PEM-encoded certificate signing request");
  const der = block ? new Uint8Array(Buffer.from(block[2].replace(/\s+/g, ""), "base64")) : bytes;
  try {
    return describeRequest(der);
  } catch (error) {
    if (error instanceof BuiltinError) throw error;
    throw new BuiltinError(`x509: malformed certificate request: ${(error as Error).message}`);
  }
}

export const x509Builtins: Record<string, Builtin> = {
  "crypto.x509.parse_certificates": (certs: unknown) => parseCertificates(expectString(certs, "certs")),
  "crypto.x509.parse_certificate_request": (csr: unknown) => parseRequest(expectString(csr, "csr")),
};

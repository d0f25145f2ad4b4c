/**
 * @module x509-verify
 * crypto.x509.parse_and_verify_certificates(_with_options): the first
 * certificate is the root, the last the leaf, those between intermediates,
 * and the chain is verified as Go's x509.Verify does for the cases policies
 * meet: each certificate signed by its issuer (matched by name), every one
 * valid at the evaluation's instant (or CurrentTime), issuers that are CAs
 * within their path length, no unhandled critical extension, the requested
 * extended key usages (server authentication by default) allowed along the
 * chain, DNS and IP name constraints, and DNSName matched against the leaf.
 * Signatures are checked with node:crypto, synchronously.
 */
import { Buffer } from "node:buffer";
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { BuiltinError, expectString, isPlainObject, type Builtin, type BuiltinContext } from "./context";
import { parseIPv4, parseIPv6 } from "./net";
import { parseCertificates } from "./x509";

type Parsed = Record<string, any>;

/** OPA's names for Go's extended key usages. */
const KEY_USAGES: Record<string, number> = {
  KeyUsageAny: 0,
  KeyUsageServerAuth: 1,
  KeyUsageClientAuth: 2,
  KeyUsageCodeSigning: 3,
  KeyUsageEmailProtection: 4,
  KeyUsageIPSECEndSystem: 5,
  KeyUsageIPSECTunnel: 6,
  KeyUsageIPSECUser: 7,
  KeyUsageTimeStamping: 8,
  KeyUsageOCSPSigning: 9,
  KeyUsageMicrosoftServerGatedCrypto: 10,
  KeyUsageNetscapeServerGatedCrypto: 11,
  KeyUsageMicrosoftCommercialCodeSigning: 12,
  KeyUsageMicrosoftKernelCodeSigning: 13,
};

/** Hash by Go signature algorithm number, for the algorithms node:crypto verifies directly. */
const SIGNATURE_HASHES: Record<number, string | null> = { 3: "sha1", 4: "sha256", 5: "sha384", 6: "sha512", 9: "sha1", 10: "sha256", 11: "sha384", 12: "sha512", 16: null };

interface VerifyOptions {
  dnsName?: string;
  nowMs: number;
  keyUsages: number[];
}

class ChainError extends Error {}

const bytes = (base64: string) => Buffer.from(base64, "base64");

function signedBy(child: Parsed, parent: Parsed): boolean {
  const hash = SIGNATURE_HASHES[child.SignatureAlgorithm as number];
  if (hash === undefined) return false;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: bytes(parent.RawSubjectPublicKeyInfo), format: "der", type: "spki" });
    return verify(hash, bytes(child.RawTBSCertificate), key, bytes(child.Signature));
  } catch {
    return false;
  }
}

function checkValidity(certificate: Parsed, nowMs: number): void {
  if (nowMs < Date.parse(certificate.NotBefore) || nowMs > Date.parse(certificate.NotAfter)) throw new ChainError("certificate has expired or is not yet valid");
  if (certificate.UnhandledCriticalExtensions) throw new ChainError("unhandled critical extension");
}

/** Go's extended key usage check: every certificate that lists usages must allow one of those asked for. */
function checkKeyUsages(chain: Parsed[], wanted: number[]): void {
  if (wanted.includes(0)) return;
  for (const certificate of chain) {
    const usages = (certificate.ExtKeyUsage as number[] | null) ?? [];
    if (usages.length === 0 && !certificate.UnknownExtKeyUsage) continue;
    if (usages.includes(0)) continue;
    if (!wanted.some((usage) => usages.includes(usage))) throw new ChainError("certificate specifies an incompatible key usage");
  }
}

function dnsWithin(name: string, constraint: string): boolean {
  const host = name.toLowerCase();
  const domain = constraint.toLowerCase();
  if (domain.startsWith(".")) return host.endsWith(domain);
  return host === domain || host.endsWith(`.${domain}`);
}

function ipBigint(text: string): { value: bigint; bits: number } | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { value: v4, bits: 32 };
  const v6 = parseIPv6(text);
  return v6 === undefined ? undefined : { value: v6, bits: 128 };
}

function ipWithin(address: string, range: { IP: string; Mask: string }): boolean {
  const ip = ipBigint(address);
  const base = ipBigint(range.IP);
  if (!ip || !base || ip.bits !== base.bits) return false;
  const mask = BigInt(`0x${bytes(range.Mask).toString("hex") || "0"}`);
  return (ip.value & mask) === (base.value & mask);
}

/** DNS and IP name constraints of the issuers, applied to the leaf's names. */
function checkNameConstraints(chain: Parsed[]): void {
  const leaf = chain[0];
  for (const issuer of chain.slice(1)) {
    for (const name of (leaf.DNSNames as string[] | null) ?? []) {
      if (issuer.PermittedDNSDomains && !issuer.PermittedDNSDomains.some((d: string) => dnsWithin(name, d))) throw new ChainError(`DNS name ${name} is not permitted`);
      if (issuer.ExcludedDNSDomains?.some((d: string) => dnsWithin(name, d))) throw new ChainError(`DNS name ${name} is excluded`);
    }
    for (const address of (leaf.IPAddresses as string[] | null) ?? []) {
      if (issuer.PermittedIPRanges && !issuer.PermittedIPRanges.some((r: { IP: string; Mask: string }) => ipWithin(address, r))) throw new ChainError(`IP ${address} is not permitted`);
      if (issuer.ExcludedIPRanges?.some((r: { IP: string; Mask: string }) => ipWithin(address, r))) throw new ChainError(`IP ${address} is excluded`);
    }
  }
}

/** Go's VerifyHostname, for DNS names (wildcards in the leftmost label) and IP addresses. */
function checkHostname(leaf: Parsed, host: string): void {
  const name = host.replace(/^\[|\]$/g, "");
  if (ipBigint(name)) {
    if (!((leaf.IPAddresses as string[] | null) ?? []).some((ip) => ipBigint(ip)?.value === ipBigint(name)?.value)) throw new ChainError(`certificate is not valid for ${host}`);
    return;
  }
  const wanted = name.toLowerCase().replace(/\.$/, "");
  const ok = ((leaf.DNSNames as string[] | null) ?? []).some((pattern) => {
    const p = pattern.toLowerCase().replace(/\.$/, "");
    if (p === wanted) return true;
    if (!p.startsWith("*.")) return false;
    const dot = wanted.indexOf(".");
    return dot > 0 && wanted.slice(dot) === p.slice(1);
  });
  if (!ok) throw new ChainError(`certificate is not valid for ${host}`);
}

/** The chain from leaf to root, as the first chain Go's Verify returns. */
function verifyChain(certificates: Parsed[], options: VerifyOptions): Parsed[] {
  if (certificates.length < 2) throw new BuiltinError("must supply at least two certificates to be able to verify");
  const root = certificates[0];
  const intermediates = certificates.slice(1, -1);
  const leaf = certificates[certificates.length - 1];
  const chain = [leaf];
  let current = leaf;
  for (let depth = 0; depth <= intermediates.length; depth++) {
    checkValidity(current, options.nowMs);
    if (current.RawIssuer === root.RawSubject && signedBy(current, root)) {
      checkValidity(root, options.nowMs);
      chain.push(root);
      break;
    }
    const parent = intermediates.find((candidate) => !chain.includes(candidate) && candidate.RawSubject === current.RawIssuer && signedBy(current, candidate));
    if (!parent) throw new ChainError("certificate signed by unknown authority");
    if (!parent.BasicConstraintsValid || !parent.IsCA) throw new ChainError("intermediate is not a CA");
    chain.push(parent);
    current = parent;
  }
  if (chain[chain.length - 1] !== root) throw new ChainError("certificate signed by unknown authority");
  chain.forEach((certificate, index) => {
    // Intermediates and the root may constrain how many intermediates follow them.
    if (index > 0 && certificate.BasicConstraintsValid && (certificate.MaxPathLen > 0 || certificate.MaxPathLenZero) && index - 1 > certificate.MaxPathLen) {
      throw new ChainError("too many intermediates for path length constraint");
    }
  });
  checkNameConstraints(chain);
  checkKeyUsages(chain, options.keyUsages);
  if (options.dnsName) checkHostname(leaf, options.dnsName);
  return chain;
}

function readOptions(value: unknown, nowMs: number): VerifyOptions {
  if (!isPlainObject(value)) throw new BuiltinError("options must be an object");
  const options: VerifyOptions = { nowMs, keyUsages: [1] };
  for (const [key, option] of Object.entries(value)) {
    if (key === "DNSName") {
      if (typeof option !== "string") throw new BuiltinError("'DNSName' should be a string");
      options.dnsName = option.replace(/^"+|"+$/g, "");
    } else if (key === "CurrentTime") {
      if (typeof option !== "number" && typeof option !== "bigint") throw new BuiltinError("'CurrentTime' should be a number");
      options.nowMs = Number(BigInt(option) / 1_000_000n);
    } else if (key === "MaxConstraintComparisons") {
      if (typeof option !== "number") throw new BuiltinError("'MaxConstraintComparisons' should be a number");
    } else if (key === "KeyUsages") {
      if (!Array.isArray(option) && !(option instanceof Set)) throw new BuiltinError("'KeyUsages' should be an Array or Set");
      const names = [...option].filter((u): u is string => typeof u === "string").map((u) => u.replace(/^"+|"+$/g, ""));
      const invalid = names.filter((name) => KEY_USAGES[name] === undefined);
      if (invalid.length > 0) throw new BuiltinError(`invalid entries for 'KeyUsages' found: [${invalid.join(" ")}]`);
      options.keyUsages = names.map((name) => KEY_USAGES[name]);
    } else {
      throw new BuiltinError("invalid key option");
    }
  }
  return options;
}

/** Unreadable certificates answer [false, []] before the options are looked at, as in OPA. */
function attempt(text: string, options: () => VerifyOptions, keepUriStrings: boolean): unknown[] {
  let certificates: Parsed[];
  try {
    certificates = parseCertificates(text);
  } catch {
    return [false, []];
  }
  const verifyOptions = options();
  try {
    const chain = verifyChain(certificates, verifyOptions);
    return [true, keepUriStrings ? chain : chain.map(({ URIStrings: _, ...certificate }) => certificate)];
  } catch (error) {
    if (error instanceof ChainError || error instanceof BuiltinError) return [false, []];
    throw error;
  }
}

export function x509VerifyBuiltins(context: BuiltinContext): Record<string, Builtin> {
  const nowMs = () => Number(context.nowNs() / 1_000_000n);
  return {
    "crypto.x509.parse_and_verify_certificates": (certs: unknown) => attempt(expectString(certs, "certs"), () => ({ nowMs: nowMs(), keyUsages: [1] }), true),
    // OPA returns Go's certificates here without the URIStrings it adds elsewhere.
    "crypto.x509.parse_and_verify_certificates_with_options": (certs: unknown, options: unknown) =>
      attempt(expectString(certs, "certs"), () => readOptions(options, nowMs()), false),
  };
}

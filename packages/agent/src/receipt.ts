/**
 * @module receipt
 * Signed decision receipts: what they bind, and how anyone checks one
 * offline (this SDK before reusing a decision, an auditor, a tool server
 * that wants proof the call it is about to serve was allowed).
 *
 * A receipt is a compact JWS (RFC 7515), EdDSA over Ed25519, `typ`
 * `tg-receipt+jwt`, signed by an edge key whose public half the edge
 * publishes at `/.well-known/jwks.json`. It binds the decision id, the
 * tenant, agent and session, the sha256 of the canonical action, the
 * decision, the effective tier, the policy key and every layer's digest,
 * `iat` and `exp`. `ttl_s` is how long the policy lets the decision be
 * reused for an identical action (0: never; the receipt is then proof of one
 * decision, valid for a short window).
 *
 * Verification refuses anything it does not fully understand: another
 * algorithm or type, an unknown or non-Ed25519 key, a non-canonical
 * encoding (so no byte of a receipt can change and still verify), a
 * missing or mistyped claim, an expired receipt, or one issued in the
 * future.
 */
import { fromBase64UrlStrict } from "./base64url.ts";
import { actionHash } from "./canonical-json.ts";

export const RECEIPT_TYPE = "tg-receipt+jwt";
export const RECEIPT_ISSUER = "tollgate";

export type Verdict = "allow" | "deny" | "require_approval";

export interface ReceiptLayer {
  scope: string;
  digest: string;
  version: number;
}

export interface ReceiptClaims {
  iss: typeof RECEIPT_ISSUER;
  /** The decision id. */
  jti: string;
  iat: number;
  exp: number;
  tenant: string;
  /** The agent. */
  sub: string;
  session: string;
  /** sha256 of the canonical action, `sha256:<hex>`. */
  action: string;
  decision: Verdict;
  tier: string;
  /** `enforce`, or `observe` when the decision was told allow while the policy is being observed. */
  mode: string;
  policy: { key: string; layers: ReceiptLayer[] };
  /** How long the decision may be reused for an identical action; 0 never. */
  ttl_s: number;
}

export interface ReceiptKey {
  kty: string;
  crv?: string;
  x?: string;
  kid?: string;
  alg?: string;
  use?: string;
}

export interface VerifyOptions {
  /** The edge's published keys: its JWKS document, or the keys themselves. */
  keys: { keys: ReceiptKey[] } | ReceiptKey[];
  /** Milliseconds since the epoch; defaults to now. */
  now?: number;
  /** Tolerated clock difference with the edge, in seconds (default 30). */
  clockSkewS?: number;
  /** Claims the receipt must carry; `action` may be the action itself or its hash. */
  expect?: { tenant?: string; agent?: string; session?: string; action?: unknown; decision?: Verdict };
}

export type ReceiptErrorCode = "malformed" | "unsupported" | "unknown_key" | "bad_signature" | "expired" | "not_yet_valid" | "mismatch";

export class ReceiptError extends Error {
  constructor(
    readonly code: ReceiptErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "ReceiptError";
  }
}

/** Receipts are a few hundred bytes; anything much larger is not one. */
const MAX_RECEIPT_LENGTH = 8 * 1024;
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function segmentJson(segment: string, what: string): Record<string, unknown> {
  const bytes = fromBase64UrlStrict(segment);
  if (!bytes) throw new ReceiptError("malformed", `the receipt's ${what} is not canonical base64url`);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new ReceiptError("malformed", `the receipt's ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ReceiptError("malformed", `the receipt's ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

interface Decoded {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signingInput: Uint8Array<ArrayBuffer>;
  signature: Uint8Array<ArrayBuffer>;
}

function split(token: unknown): Decoded {
  if (typeof token !== "string" || token.length > MAX_RECEIPT_LENGTH) throw new ReceiptError("malformed", "a receipt is a compact JWS string of at most 8 KiB");
  const parts = token.split(".");
  if (parts.length !== 3) throw new ReceiptError("malformed", "a receipt has three dot-separated segments");
  const signature = fromBase64UrlStrict(parts[2]);
  if (!signature || signature.byteLength !== 64) throw new ReceiptError("malformed", "the receipt's signature is not a canonical 64-byte Ed25519 signature");
  return {
    header: segmentJson(parts[0], "header"),
    claims: segmentJson(parts[1], "payload"),
    signingInput: new TextEncoder().encode(`${parts[0]}.${parts[1]}`) as Uint8Array<ArrayBuffer>,
    signature,
  };
}

/** The claims of a receipt, without checking anything: for display only, never for a decision. */
export function decodeReceipt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const { header, claims } = split(token);
  return { header, claims };
}

const isString = (value: unknown): value is string => typeof value === "string" && value.length > 0;
const isTime = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
const VERDICTS: readonly string[] = ["allow", "deny", "require_approval"];

function wellFormed(claims: Record<string, unknown>): claims is Record<string, unknown> & ReceiptClaims {
  const policy = claims.policy as { key?: unknown; layers?: unknown } | undefined;
  return (
    claims.iss === RECEIPT_ISSUER &&
    isString(claims.jti) &&
    isTime(claims.iat) &&
    isTime(claims.exp) &&
    isString(claims.tenant) &&
    isString(claims.sub) &&
    isString(claims.session) &&
    typeof claims.action === "string" &&
    /^sha256:[0-9a-f]{64}$/.test(claims.action) &&
    typeof claims.decision === "string" &&
    VERDICTS.includes(claims.decision) &&
    isString(claims.tier) &&
    isString(claims.mode) &&
    isTime(claims.ttl_s) &&
    typeof policy === "object" &&
    policy !== null &&
    isString(policy.key) &&
    Array.isArray(policy.layers) &&
    policy.layers.every((layer: Partial<ReceiptLayer>) => isString(layer?.scope) && isString(layer?.digest) && isTime(layer?.version))
  );
}

function keyList(keys: VerifyOptions["keys"]): ReceiptKey[] {
  return Array.isArray(keys) ? keys : Array.isArray(keys?.keys) ? keys.keys : [];
}

const importedKeys = new Map<string, Promise<CryptoKey>>();

function importKey(x: string): Promise<CryptoKey> {
  let key = importedKeys.get(x);
  if (!key) {
    key = crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x }, { name: "Ed25519" }, false, ["verify"]);
    key.catch(() => importedKeys.delete(x));
    importedKeys.set(x, key);
    if (importedKeys.size > 100) importedKeys.delete(importedKeys.keys().next().value!);
  }
  return key;
}

/**
 * Verifies a receipt and returns its claims; throws `ReceiptError` with a
 * code saying why it is refused. Pass `expect` to check that it is the
 * receipt of this tenant, agent, session and action.
 */
export async function verifyReceipt(token: string, options: VerifyOptions): Promise<ReceiptClaims> {
  const { header, claims, signingInput, signature } = split(token);
  if (header.alg !== "EdDSA" || header.typ !== RECEIPT_TYPE || header.crit !== undefined) {
    throw new ReceiptError("unsupported", `a receipt is an EdDSA JWS of type ${RECEIPT_TYPE} with no critical extensions`);
  }
  const key = keyList(options.keys).find((candidate) => candidate.kid === header.kid);
  if (!isString(header.kid) || !key) throw new ReceiptError("unknown_key", `the receipt was signed by key ${String(header.kid)}, which is not among the edge's published keys`);
  if (key.kty !== "OKP" || key.crv !== "Ed25519" || !isString(key.x) || (key.use !== undefined && key.use !== "sig")) {
    throw new ReceiptError("unknown_key", `key ${header.kid} is not an Ed25519 signing key`);
  }
  let valid = false;
  try {
    valid = await crypto.subtle.verify({ name: "Ed25519" }, await importKey(key.x), signature, signingInput);
  } catch {
    valid = false;
  }
  if (!valid) throw new ReceiptError("bad_signature", "the receipt's signature does not verify");
  if (!wellFormed(claims)) throw new ReceiptError("malformed", "the receipt is missing claims or has claims of the wrong type");
  const now = (options.now ?? Date.now()) / 1000;
  const skew = options.clockSkewS ?? 30;
  if (claims.exp <= now) throw new ReceiptError("expired", `the receipt expired at ${new Date(claims.exp * 1000).toISOString()}`);
  if (claims.iat - skew > now) throw new ReceiptError("not_yet_valid", "the receipt was issued in the future");
  const expect = options.expect;
  if (expect) {
    const mismatch = (what: string, want: unknown, got: unknown) => {
      if (want !== undefined && want !== got) throw new ReceiptError("mismatch", `the receipt is for ${what} ${String(got)}, not ${String(want)}`);
    };
    mismatch("tenant", expect.tenant, claims.tenant);
    mismatch("agent", expect.agent, claims.sub);
    mismatch("session", expect.session, claims.session);
    mismatch("decision", expect.decision, claims.decision);
    if (expect.action !== undefined) {
      const wanted = typeof expect.action === "string" && expect.action.startsWith("sha256:") ? expect.action : await actionHash(expect.action);
      if (wanted !== claims.action) throw new ReceiptError("mismatch", "the receipt is for another action");
    }
  }
  return claims;
}

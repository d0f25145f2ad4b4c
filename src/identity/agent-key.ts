/**
 * @module agent-key
 * Agent keys minted by Tollgate: `tgk_<tenant>_<key id>_<secret>`. The
 * tenant and key id let any edge find the key's entry in the tenant's
 * registry without a search; the secret is 32 random bytes, shown once and
 * stored only as its sha256, so a leaked registry grants nothing. The format
 * is fixed and checked before anything is looked up.
 */
import { sha256Hex } from "../bundles/canonical";
import { toBase64Url } from "../bundles/signature";
import { randomHex } from "../../packages/agent/src/hex.ts";
import { TENANT_ID } from "../schema/tenant-id";

export const AGENT_KEY_PREFIX = "tgk_";
const KEY_PATTERN = new RegExp(`^tgk_(${TENANT_ID})_(k[0-9a-f]{16})_([A-Za-z0-9_-]{43})$`);

export interface ParsedAgentKey {
  tenant: string;
  keyId: string;
  secret: string;
}

export function parseAgentKey(token: string): ParsedAgentKey | undefined {
  const match = KEY_PATTERN.exec(token);
  return match ? { tenant: match[1], keyId: match[2], secret: match[3] } : undefined;
}

export function newKeyId(): string {
  return `k${randomHex(8)}`;
}

export function mintAgentKey(tenant: string, keyId: string): { key: string; secret: string } {
  const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return { key: `${AGENT_KEY_PREFIX}${tenant}_${keyId}_${secret}`, secret };
}

export const secretHash = (secret: string) => sha256Hex(secret);

/** Compares two hex digests without leaking where they first differ. */
export function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const encoder = new TextEncoder();
  return crypto.subtle.timingSafeEqual(encoder.encode(a), encoder.encode(b));
}

/**
 * @module uuid-v7
 * UUIDv7 (RFC 9562): 48 bits of milliseconds, then random bits, from
 * WebCrypto. Unique and sortable by when they were made, which keeps
 * queries of the audit log by time range cheap. The edge's decision ids and
 * this SDK's offline ones are both made here.
 */
import { toHex } from "./hex.ts";

export function uuidV7(nowMs: number = Date.now()): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let ms = BigInt(nowMs);
  for (let i = 5; i >= 0; i--) {
    bytes[i] = Number(ms & 0xffn);
    ms >>= 8n;
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

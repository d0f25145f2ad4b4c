/**
 * @module hex
 * Bytes as lowercase hex: digests, random ids, MACs. One table lookup per
 * byte, since several run on every decision (the action hash, the agent
 * key's hash, the receipt's action hash). The edge imports this module too.
 */
const BYTE_HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += BYTE_HEX[bytes[i]];
  return out;
}

/** `length` random bytes from WebCrypto, as hex: the random part of ids. */
export function randomHex(length: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(length)));
}

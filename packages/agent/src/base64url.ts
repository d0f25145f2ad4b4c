/**
 * @module base64url
 * Base64url without padding (RFC 7515 §2). Decoding is strict: a segment
 * that is not the canonical encoding of its bytes (stray padding, unused
 * trailing bits set, characters outside the alphabet) is refused, so no two
 * different strings verify as the same signed token.
 */
type NativeToBase64 = (this: Uint8Array, options: { alphabet: "base64url"; omitPadding: boolean }) => string;

/** The runtime's own encoder (Uint8Array.prototype.toBase64: workerd, recent browsers), where it has one. */
const nativeToBase64 = (Uint8Array.prototype as { toBase64?: NativeToBase64 }).toBase64;

/** Every receipt and credential the edge signs is encoded here, so the native encoder is used where there is one. */
export function toBase64Url(bytes: Uint8Array): string {
  return nativeToBase64 ? nativeToBase64.call(bytes, { alphabet: "base64url", omitPadding: true }) : toBase64UrlPortable(bytes);
}

/** The same encoding in any runtime (Node 22 has no toBase64). */
export function toBase64UrlPortable(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Undefined when `text` is not canonical base64url. */
export function fromBase64UrlStrict(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  let binary: string;
  try {
    binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  } catch {
    return undefined;
  }
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return toBase64Url(bytes) === text ? bytes : undefined;
}

/**
 * @module secret-box
 * Authenticated encryption for what the MCP gateway keeps secret: an
 * upstream's credentials at rest, and the state it hands a client as its
 * `Mcp-Session-Id` and as the ids of the events it streams. One deployment
 * secret, MCP_SECRET_KEY (32 random bytes, base64url), is stretched with
 * HKDF into one AES-256-GCM key per purpose, so a ciphertext made for one
 * purpose never opens as another. Each seal also binds associated data (the
 * tenant and server a credential belongs to), so a ciphertext copied to
 * another tenant's entry does not open.
 */
import { toBase64Url } from "../../packages/agent/src/base64url.ts";
import { ApiError } from "../errors";

export type SealPurpose = "upstream-credentials" | "mcp-session" | "mcp-event";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

export function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  let binary: string;
  try {
    binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    return undefined;
  }
  // A plain loop: this runs on every MCP request (its session id), and a mapping callback per byte cost several times more.
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Whether the deployment has a usable MCP_SECRET_KEY. */
export function hasSecretKey(env: Env): boolean {
  return fromBase64url(env.MCP_SECRET_KEY ?? "")?.length === 32;
}

function keyFor(env: Env, purpose: SealPurpose): Promise<CryptoKey> {
  const secret = env.MCP_SECRET_KEY ?? "";
  const cacheKey = `${purpose}:${secret}`;
  let key = keys.get(cacheKey);
  if (!key) {
    const raw = fromBase64url(secret);
    if (raw?.length !== 32) {
      throw new ApiError(503, "misconfigured", "the MCP gateway has no secret key (MCP_SECRET_KEY, 32 bytes base64url): it cannot keep upstream credentials or sessions");
    }
    key = crypto.subtle
      .importKey("raw", raw, "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(`tollgate ${purpose}`) }, material, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]),
      );
    keys.set(cacheKey, key);
  }
  return key;
}

/** `v1.<iv>.<ciphertext>`, base64url, visible ASCII only (fit for a header). */
export async function seal(env: Env, purpose: SealPurpose, plaintext: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const cipher = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(context) }, await keyFor(env, purpose), encoder.encode(plaintext));
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(cipher))}`;
}

/** The plaintext, or undefined for anything that is not a ciphertext this key made for this purpose and context. */
export async function unseal(env: Env, purpose: SealPurpose, sealed: string, context: string): Promise<string | undefined> {
  const [version, ivText, cipherText, extra] = sealed.split(".");
  if (version !== "v1" || extra !== undefined) return undefined;
  const iv = fromBase64url(ivText ?? "");
  const cipher = fromBase64url(cipherText ?? "");
  if (iv?.length !== 12 || !cipher || cipher.length < 16) return undefined;
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(context) }, await keyFor(env, purpose), cipher);
    return new TextDecoder().decode(plain);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    return undefined;
  }
}

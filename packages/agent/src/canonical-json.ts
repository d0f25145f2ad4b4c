/**
 * @module canonical-json
 * Canonical JSON (keys sorted, no whitespace, undefined members left out)
 * and sha256 with WebCrypto. What is hashed or signed never depends on how a
 * value was formatted, so the edge and this SDK compute the same action hash
 * from the same action. The edge imports this module too: the format is
 * defined once.
 */
import { toHex } from "./hex.ts";

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

/** The hash a receipt binds an action to: sha256 of its canonical JSON, as `sha256:<hex>`. */
export async function actionHash(action: unknown): Promise<string> {
  return `sha256:${await sha256Hex(canonicalJson(action))}`;
}

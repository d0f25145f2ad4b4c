/**
 * @module canonical-json
 * Canonical JSON (keys sorted, no whitespace, undefined members left out)
 * and sha256 with WebCrypto. What is hashed or signed never depends on how a
 * value was formatted, so the edge and this SDK compute the same action hash
 * from the same action. The edge imports this module too: the format is
 * defined once.
 */
import { toHex } from "./hex.ts";

/**
 * Written as loops over sorted keys rather than entries/filter/map/join: it
 * runs several times per decision on the edge, and this is half the cost.
 * Keys sort by UTF-16 code units (Array.prototype.sort's default order).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // As Array.prototype.join would: an element with no JSON text (undefined) adds nothing.
      out += canonicalJson(value[i]) ?? "";
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = "{";
  let first = true;
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${canonicalJson(member)}`;
    first = false;
  }
  return `${out}}`;
}

const utf8 = new TextEncoder();

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

/** The hash a receipt binds an action to: sha256 of its canonical JSON, as `sha256:<hex>`. */
export async function actionHash(action: unknown): Promise<string> {
  return `sha256:${await sha256Hex(canonicalJson(action))}`;
}

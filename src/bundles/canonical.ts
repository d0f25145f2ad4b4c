/**
 * @module canonical
 * Canonical JSON (sorted keys, no whitespace) and sha256 for the Worker, so
 * that what is signed and hashed never depends on formatting. The Node tools
 * compute the same bytes in scripts/lib/digest.ts.
 */
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
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The digest of a policy layer: its entrypoint and the sha256 of every file. */
export async function layerDigest(entrypoint: string, fileHashes: Record<string, string>): Promise<string> {
  return `sha256:${await sha256Hex(canonicalJson({ entrypoint, files: fileHashes }))}`;
}

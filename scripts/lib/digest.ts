/**
 * @module digest
 * Canonical JSON and bundle digests for the Node-side tools. The bundle
 * digest commits to the entrypoint and the sha256 of every file, hashed over
 * canonical JSON (sorted keys, no whitespace) so formatting never changes it.
 * The Worker computes the same digest with WebCrypto in src/bundles/.
 */
import { createHash } from "node:crypto";

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function bundleDigest(entrypoint: string, files: Record<string, Uint8Array | string>): string {
  const fileDigests = Object.fromEntries(
    Object.entries(files).map(([name, bytes]) => [name, sha256Hex(bytes)]),
  );
  return `sha256:${sha256Hex(canonicalJson({ entrypoint, files: fileDigests }))}`;
}

/**
 * @module digest
 * Synchronous sha256 and layer digests for the Node-side tools. The digest
 * commits to the entrypoint and the sha256 of every file, hashed over the
 * same canonical JSON the edge uses (src/bundles/canonical.ts), so formatting
 * never changes it.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../../src/bundles/canonical.ts";

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function bundleDigest(entrypoint: string, files: Record<string, Uint8Array | string>): string {
  const fileDigests = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, sha256Hex(bytes)]));
  return `sha256:${sha256Hex(canonicalJson({ entrypoint, files: fileDigests }))}`;
}

/**
 * @module digest
 * Synchronous sha256 for the Node-side tools (file hashes of a build); layer
 * digests come from src/bundles/canonical.ts, exactly as the edge computes them.
 */
import { createHash } from "node:crypto";

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

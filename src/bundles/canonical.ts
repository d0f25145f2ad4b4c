/**
 * @module canonical
 * Canonical JSON (sorted keys, no whitespace) and sha256 for the Worker, so
 * that what is signed and hashed never depends on formatting. Both are the
 * agent SDK's own (its receipts bind the canonical action), so the edge and
 * the SDK cannot disagree; the Node tools compute the same bytes in
 * scripts/lib/digest.ts.
 */
import { canonicalJson, sha256Hex } from "../../packages/agent/src/canonical-json.ts";

export { canonicalJson, sha256Hex };

/** The digest of a policy layer: its entrypoint and the sha256 of every file. */
export async function layerDigest(entrypoint: string, fileHashes: Record<string, string>): Promise<string> {
  return `sha256:${await sha256Hex(canonicalJson({ entrypoint, files: fileHashes }))}`;
}

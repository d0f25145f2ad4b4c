/**
 * @module default-spool
 * Where offline decisions are spooled when the caller does not say: a file
 * where `node:fs` exists (Node, Deno, Bun), IndexedDB in a browser, memory
 * anywhere else (a Worker). The file is named after the credential, so two
 * agents in one directory never share a spool.
 */
import { FileSpoolStore } from "./file-spool.ts";
import { hasIndexedDb, IndexedDbSpoolStore } from "./indexeddb-spool.ts";
import { MemorySpoolStore, type SpoolStore } from "./spool.ts";

/** FNV-1a: a short, stable file name for a credential (not a secret: the file only holds what may be logged). */
function fingerprint(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

export function defaultSpool(credential: unknown): SpoolStore {
  const runtime = globalThis as { process?: { versions?: { node?: string } }; Deno?: unknown };
  const name = typeof credential === "string" ? `spool-${fingerprint(credential)}.jsonl` : "spool.jsonl";
  if (runtime.process?.versions?.node !== undefined || runtime.Deno !== undefined) return new FileSpoolStore(`.tollgate/${name}`);
  if (hasIndexedDb()) return new IndexedDbSpoolStore(`tollgate-${name}`);
  return new MemorySpoolStore();
}

/**
 * @module lkg-cache
 * The last known good snapshot, kept in the Cache API of this location so a
 * new isolate can decide with it before the store answers (or while it does
 * not). What comes back from the cache is verified again like anything read
 * from R2: the cache is a convenience, not a trust anchor.
 */
import type { StoredLayer } from "./layer-reader.ts";
import { fromBase64Url, toBase64Url } from "./signature.ts";

const CACHE_NAME = "tollgate-lkg";
const BASE = "https://lkg.tollgate.internal/";

export interface StoredSnapshot {
  signedSnapshot: unknown;
  layers: Record<string, StoredLayer>;
  /** The signed rollout documents the snapshot binds, by scope (absent in older copies: every scope enforces). */
  rollouts?: Record<string, unknown>;
}

/**
 * Each file is kept once however many layers hold it (the store interns
 * identical files, so it is the same bytes): a thousand tenant layers
 * carrying the same compiled policy keep one copy of it here too.
 */
interface EncodedSnapshot {
  format: 2;
  signedSnapshot: unknown;
  blobs: Record<string, string>;
  layers: Record<string, { signedManifest: unknown; files: Record<string, string> }>;
  rollouts: Record<string, unknown>;
}

function encode(stored: StoredSnapshot): string {
  const blobs: Record<string, string> = {};
  const names = new Map<Uint8Array, string>();
  const blobOf = (bytes: Uint8Array) => {
    let name = names.get(bytes);
    if (name === undefined) {
      name = `b${names.size}`;
      names.set(bytes, name);
      blobs[name] = toBase64Url(bytes);
    }
    return name;
  };
  const layers = Object.fromEntries(
    Object.entries(stored.layers).map(([scope, layer]) => [
      scope,
      { signedManifest: layer.signedManifest, files: Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, blobOf(bytes)])) },
    ]),
  );
  const encoded: EncodedSnapshot = { format: 2, signedSnapshot: stored.signedSnapshot, blobs, layers, rollouts: stored.rollouts ?? {} };
  return JSON.stringify(encoded);
}

/** Everything read back is verified again by the caller; here it only has to have the right shape. */
function decode(text: string): StoredSnapshot {
  const raw = JSON.parse(text) as Partial<EncodedSnapshot>;
  if (raw.format !== 2 || typeof raw.blobs !== "object" || raw.blobs === null || typeof raw.layers !== "object" || raw.layers === null) {
    throw new Error("the cached snapshot is not in this version's format");
  }
  const blobs = new Map<string, Uint8Array>();
  const bytesOf = (name: string) => {
    let bytes = blobs.get(name);
    if (bytes === undefined) {
      const text = raw.blobs![name];
      if (typeof text !== "string") throw new Error(`the cached snapshot names a file ${name} it does not hold`);
      bytes = fromBase64Url(text);
      blobs.set(name, bytes);
    }
    return bytes;
  };
  const layers = Object.fromEntries(
    Object.entries(raw.layers).map(([scope, layer]) => [
      scope,
      { signedManifest: layer.signedManifest, files: Object.fromEntries(Object.entries(layer.files).map(([name, blob]) => [name, bytesOf(blob)])) },
    ]),
  );
  return { signedSnapshot: raw.signedSnapshot, layers, rollouts: raw.rollouts };
}

export class LkgCache {
  constructor(private readonly region: string) {}

  private url(): string {
    return `${BASE}${encodeURIComponent(this.region)}/snapshot`;
  }

  async save(stored: StoredSnapshot): Promise<void> {
    const cache = await caches.open(CACHE_NAME);
    await cache.put(this.url(), new Response(encode(stored), { headers: { "cache-control": "max-age=31536000" } }));
  }

  async load(): Promise<StoredSnapshot | undefined> {
    const cache = await caches.open(CACHE_NAME);
    const response = await cache.match(this.url());
    return response ? decode(await response.text()) : undefined;
  }
}

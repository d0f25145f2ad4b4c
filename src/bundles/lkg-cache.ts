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

function encode(stored: StoredSnapshot): string {
  const layers = Object.fromEntries(
    Object.entries(stored.layers).map(([scope, layer]) => [
      scope,
      {
        signedManifest: layer.signedManifest,
        files: Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, toBase64Url(bytes)])),
      },
    ]),
  );
  return JSON.stringify({ signedSnapshot: stored.signedSnapshot, layers, rollouts: stored.rollouts ?? {} });
}

function decode(text: string): StoredSnapshot {
  const raw = JSON.parse(text) as { signedSnapshot: unknown; layers: Record<string, { signedManifest: unknown; files: Record<string, string> }>; rollouts?: Record<string, unknown> };
  const layers = Object.fromEntries(
    Object.entries(raw.layers).map(([scope, layer]) => [
      scope,
      {
        signedManifest: layer.signedManifest,
        files: Object.fromEntries(Object.entries(layer.files).map(([name, b64]) => [name, fromBase64Url(b64)])),
      },
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

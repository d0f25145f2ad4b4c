/**
 * @module registry-cache
 * This isolate's copies of the tenants' registries and of the issuer
 * directory, so a credential is verified without a network call: each is
 * fetched from its Durable Object at most once per refresh interval
 * (IDENTITY_REFRESH_SECONDS), and a change — a revoked key, a new agent, a
 * rotated provider key — reaches every edge within that interval. An isolate
 * that makes a change through the admin API sees it at once.
 */
import { released } from "../rpc-result";
import type { DirectorySnapshot } from "./directory-do";
import { issuerDirectory } from "./directory-do";
import { RefreshingCache } from "./refreshing-cache";
import type { RegistrySnapshot } from "./types";

/** A registry the edge may not refresh is refused once this old (the store is unreachable). */
const DEFAULT_MAX_STALENESS_S = 300;
const DEFAULT_REFRESH_S = 30;
const LOAD_TIMEOUT_MS = 2_000;
const MAX_TENANTS = 2_000;

export function registryObject(env: Env, tenant: string) {
  return env.REGISTRY.get(env.REGISTRY.idFromName(tenant));
}

export interface IdentityCaches {
  registries: RefreshingCache<RegistrySnapshot>;
  directory: RefreshingCache<DirectorySnapshot>;
}

let caches: IdentityCaches | undefined;

function seconds(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
}

export function identityCaches(env: Env): IdentityCaches {
  if (caches) return caches;
  const refreshMs = seconds(env.IDENTITY_REFRESH_SECONDS, DEFAULT_REFRESH_S) * 1000;
  const maxStaleMs = Math.max(refreshMs, seconds(env.IDENTITY_MAX_STALENESS_SECONDS, DEFAULT_MAX_STALENESS_S) * 1000);
  const options = { refreshMs, maxStaleMs, timeoutMs: LOAD_TIMEOUT_MS };
  const created: IdentityCaches = {
    registries: new RefreshingCache<RegistrySnapshot>(async (tenant) => released(await registryObject(env, tenant).snapshot(tenant)) as RegistrySnapshot, { ...options, maxEntries: MAX_TENANTS, version: (s) => s.version }),
    directory: new RefreshingCache<DirectorySnapshot>(async () => released(await issuerDirectory(env).snapshot()) as DirectorySnapshot, { ...options, maxEntries: 1, version: (s) => s.version }),
  };
  caches = created;
  return created;
}

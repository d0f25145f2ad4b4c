/**
 * @module refreshing-cache
 * A bounded, per-isolate cache of values that change rarely and must not be
 * fetched per request (a tenant's registry, the issuer directory), with a
 * hard bound on how old a value may be:
 *
 * - younger than half the refresh interval: served as is;
 * - younger than the interval: served, and refreshed in the background;
 * - older: refreshed before it is served, so a change (a revoked key) takes
 *   effect within one interval whenever the source can be reached;
 * - if the source cannot be reached, the old value serves until it is
 *   `maxStaleMs` old, and then nothing does: the caller gets an error
 *   (stricter), never a value older than that.
 *
 * Loads are single-flight per key, and the least recently used entry goes
 * first when the cache is full, so a caller cycling through made-up keys
 * costs memory only up to the bound.
 */

export class SourceUnavailable extends Error {}

export interface RefreshingCacheOptions<T> {
  refreshMs: number;
  maxStaleMs: number;
  /** How long a request waits for the source before it is called unavailable. */
  timeoutMs: number;
  maxEntries: number;
  /** A value's version: a load that returns an older one than the cache holds does not replace it. */
  version?: (value: T) => number;
}

interface Entry<T> {
  value?: T;
  fetchedMs: number;
  loading?: Promise<T>;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SourceUnavailable(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class RefreshingCache<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly load: (key: string) => Promise<T>,
    private readonly options: RefreshingCacheOptions<T>,
  ) {}

  private loadInto(key: string, entry: Entry<T>): Promise<T> {
    entry.loading ??= this.load(key)
      .then((value) => {
        // A load begun before invalidate() read what the change replaced: it answers its own callers, and is not kept.
        if (this.entries.get(key) === entry) this.put(key, value, Date.now());
        // A load that came back older than what is held never replaces it, nor is it served.
        return this.entries.get(key)?.value ?? value;
      })
      .finally(() => {
        entry.loading = undefined;
      });
    return entry.loading;
  }

  /** The value for `key` within the bounds above; throws SourceUnavailable when none may be served. */
  async get(key: string, nowMs: number, background: (work: Promise<unknown>) => void): Promise<T> {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      entry = { fetchedMs: Number.NEGATIVE_INFINITY };
      this.remember(key, entry);
    }
    const age = nowMs - entry.fetchedMs;
    if (entry.value !== undefined && age < this.options.refreshMs) {
      if (age >= this.options.refreshMs / 2 && !entry.loading) background(this.loadInto(key, entry).catch(() => undefined));
      return entry.value;
    }
    try {
      return await withTimeout(this.loadInto(key, entry), this.options.timeoutMs);
    } catch (error) {
      if (entry.value !== undefined && age < this.options.maxStaleMs) {
        console.error(`identity: serving a ${Math.round(age / 1000)} s old copy of ${key}: ${(error as Error).message}`);
        return entry.value;
      }
      throw new SourceUnavailable(`${key}: ${(error as Error).message}`);
    }
  }

  /** Replaces the value, as when this isolate itself just changed it. */
  put(key: string, value: T, nowMs: number): void {
    const entry = this.entries.get(key);
    const version = this.options.version;
    if (entry?.value !== undefined && version && version(value) < version(entry.value)) return;
    if (entry) {
      entry.value = value;
      entry.fetchedMs = nowMs;
    } else {
      this.remember(key, { value, fetchedMs: nowMs });
    }
  }

  /** Forgets the value, so the next request loads it afresh. */
  invalidate(key: string): void {
    this.entries.delete(key);
  }

  private remember(key: string, entry: Entry<T>): void {
    this.entries.set(key, entry);
    if (this.entries.size > this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

/**
 * @module policy-store
 * What one edge isolate knows about the bundle store, and the rules for
 * changing its mind:
 *
 * - It pulls the current snapshot from R2 with a conditional read, at most
 *   once per refresh interval (or on demand), in the background: decisions in
 *   flight keep the policy they started with, and activation is a pointer swap
 *   after the new sandbox has been warmed.
 * - Nothing is activated unverified: the snapshot's signature, every layer it
 *   names (signature, key scope, revocation, files, digests, size; expiry is
 *   judged per decision, for the requests a layer governs),
 *   that each layer is exactly the one the snapshot binds (no mixing across
 *   publishes), and that no version goes backwards (replay). A refused
 *   snapshot leaves the previous one serving, and the conflict is logged and
 *   kept for the status endpoint. An override out of the global layer's
 *   bounds (one built on a value the global layer has since tightened) is
 *   such a conflict too, but holds nothing back: it is composed beside the
 *   global layer, strictest answer winning, so it can only add refusals.
 * - The last known good snapshot stays in memory and in the Cache API; a
 *   cold isolate starts from the cache, else from the store, else from the
 *   baseline compiled into the deploy.
 */
import { BASELINE_POLICY, compositionKey, type ActivePolicy } from "./active-policy.ts";
import { readLayer, type StoredLayer } from "./layer-reader.ts";
import { LkgCache, type StoredSnapshot } from "./lkg-cache.ts";
import type { Snapshot, TrustStore } from "./manifest.ts";
import { CURRENT_SNAPSHOT_KEY, rolloutKey, SNAPSHOT_HISTORY_PREFIX } from "./store-layout.ts";
import { MAX_ROLLOUT_BYTES, MAX_SNAPSHOT_BYTES, storedJson } from "./stored-json.ts";
import { rolloutDigest, verifyRollout, type RolloutDocument } from "../rollout/document.ts";
import { GLOBAL_REGION, REGION_PATTERN } from "../decision/region.ts";
import { assertWithinParent, BundleError, verifyLayer, verifySnapshot, type VerifiedLayer } from "./verify.ts";
import { withTimeout } from "../session/client.ts";
import { WITNESS_TIMEOUT_MS } from "./snapshot-witness-do.ts";

export interface StoreConfig {
  region: string;
  refreshIntervalMs: number;
  maxStalenessMs: number;
  /** Names this edge's last-known-good entry in the Cache API (defaults to the region). */
  cacheKey?: string;
  /**
   * The newest snapshot version ever published, from a record the bucket's
   * writers cannot rewrite (snapshot-witness-do.ts). A new isolate asks it
   * before it trusts anything, so an older signed snapshot put back as
   * current.json is refused even by an edge that never saw a newer one.
   */
  newestPublished?: () => Promise<number>;
}

export interface Conflict {
  at: string;
  snapshot_version?: number;
  code: string;
  message: string;
}

interface ActiveState {
  snapshot: Snapshot;
  signedSnapshot: unknown;
  /** The verified rollout documents by scope; a scope without one enforces. */
  rollouts: Map<string, RolloutDocument>;
  /**
   * Scopes whose document the snapshot binds but which failed verification:
   * each enforces, and governs in its own place rather than leaving it to a
   * less specific scope's document (see rolloutsFor).
   */
  unverifiedRollouts: Map<string, RolloutDocument>;
  /** The same, as signed, for the last-known-good copy. */
  signedRollouts: Record<string, unknown>;
  layers: Map<string, { verified: VerifiedLayer; stored: StoredLayer }>;
  /** Composed policies by region and tenant, built on first use (least recently used first out). */
  policies: Map<string, ActivePolicy>;
}

export interface Resolution {
  policy: ActivePolicy;
  source: "store" | "baseline";
  /** The store could not confirm this policy is current (unreachable, or a refused update). */
  stale: boolean;
  /** Past the maximum staleness or a bundle's expiry: the risk tier's fail mode is one more answer (pipeline's evaluate). */
  unusable?: { code: "policy_stale" | "policy_expired"; message: string };
}

export type RefreshOutcome = "unchanged" | "activated" | "refused" | "unreachable";

const MAX_CONFLICTS = 20;
/** Compositions kept per isolate: one per region and tenant that decided recently. */
const MAX_COMPOSITIONS = 1_000;
/** Sandboxes a new snapshot warms ahead of use; past these, a composition is built on first use. */
const MAX_WARMED_PER_SNAPSHOT = 200;

/**
 * The region a tenant's own layer pins it to (data residency), honoured only
 * for a region that has a layer in the snapshot. A pin adds that region's
 * layer to the one of where the request comes from (region.ts); a pin to
 * "global", or to a region nobody governs, would add nothing, so it is
 * ignored and the request's location alone decides.
 */
function pinOf(state: ActiveState, tenant: string): string | undefined {
  const data = state.layers.get(`tenant:${tenant}`)?.verified.data as { tollgate?: { residency?: { region?: unknown } } } | undefined;
  const region = data?.tollgate?.residency?.region;
  if (typeof region !== "string" || !REGION_PATTERN.test(region) || region === GLOBAL_REGION) return undefined;
  return state.layers.has(`region:${region}`) ? region : undefined;
}

/**
 * The layers that compose the policy for some regions (one, or a pinned
 * tenant's and its location's) and a tenant, global first; absent scopes
 * are skipped.
 */
function chosenLayers(state: ActiveState, regions: string[], tenant: string | undefined) {
  const regionScopes = [...new Set(regions)].filter((region) => region !== GLOBAL_REGION).map((region) => `region:${region}`);
  const scopes = ["global", ...regionScopes, ...(tenant ? [`tenant:${tenant}`] : [])];
  return scopes.map((scope) => state.layers.get(scope)).filter((layer) => layer !== undefined);
}

export class PolicyStore {
  private active: ActiveState | undefined;
  private etag: string | undefined;
  private readonly highestLayerVersion = new Map<string, number>();
  private highestSnapshotVersion = 0;
  private lastConfirmedMs: number | undefined;
  /** Since when checks have failed without a success in between; staleness counts from here. */
  private failingSinceMs: number | undefined;
  private lastAttemptMs = Number.NEGATIVE_INFINITY;
  private lastOutcome: RefreshOutcome | undefined;
  private inFlight: Promise<RefreshOutcome> | undefined;
  private loaded: Promise<void> | undefined;
  private warming: Promise<unknown> | undefined;
  readonly conflicts: Conflict[] = [];
  private readonly startedMs: number;
  private readonly lkg: LkgCache;

  constructor(
    private readonly bucket: R2Bucket,
    private readonly trust: TrustStore,
    readonly config: StoreConfig,
    nowMs: number,
    /** Warms the sandbox for a policy before it is activated, so activation never stalls a decision. */
    private readonly warm: (policy: ActivePolicy) => Promise<void> = async () => {},
  ) {
    this.startedMs = nowMs;
    this.lkg = new LkgCache(config.cacheKey ?? config.region);
  }

  /** First use in an isolate: the witness's newest version, last known good from the Cache API, then the store. */
  ensureLoaded(nowMs: number): Promise<void> {
    this.loaded ??= (async () => {
      await this.askWitness(nowMs);
      try {
        const cached = await this.lkg.load();
        if (cached) await this.activate(cached, nowMs, undefined, false);
      } catch (error) {
        this.conflict(nowMs, undefined, "lkg_unusable", (error as Error).message);
      }
      await this.refresh(nowMs);
    })();
    return this.loaded;
  }

  /**
   * Nothing older than the newest published snapshot is activated from here
   * on. A witness that cannot answer leaves this isolate as it was without
   * one (no older than what it sees itself), and says so among the conflicts.
   */
  private async askWitness(nowMs: number): Promise<void> {
    if (!this.config.newestPublished) return;
    try {
      const newest = await withTimeout(this.config.newestPublished(), WITNESS_TIMEOUT_MS);
      if (Number.isSafeInteger(newest) && newest > this.highestSnapshotVersion) this.highestSnapshotVersion = newest;
    } catch (error) {
      this.conflict(nowMs, undefined, "witness_unreachable", `the newest published snapshot version could not be read (${(error as Error).message}); until this isolate sees one, an older signed snapshot would not be noticed`);
    }
  }

  /** Starts a background refresh when the interval has passed; returns it for waitUntil. */
  maybeRefresh(nowMs: number): Promise<RefreshOutcome> | undefined {
    if (this.inFlight || nowMs - this.lastAttemptMs < this.config.refreshIntervalMs) return undefined;
    return this.refresh(nowMs);
  }

  /** Refreshes now (single flight: concurrent callers share one read of the store). */
  refresh(nowMs: number): Promise<RefreshOutcome> {
    this.inFlight ??= this.doRefresh(nowMs).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async doRefresh(nowMs: number): Promise<RefreshOutcome> {
    this.lastAttemptMs = nowMs;
    let object: R2Object | R2ObjectBody | null;
    try {
      object = await this.bucket.get(CURRENT_SNAPSHOT_KEY, this.etag ? { onlyIf: { etagDoesNotMatch: this.etag } } : undefined);
    } catch (error) {
      return this.outcome("unreachable", nowMs, () => this.conflict(nowMs, undefined, "store_unreachable", (error as Error).message));
    }
    if (!object) {
      // No current snapshot: confirmed only if nothing was ever published. A store that has a
      // history, or an edge that has seen a snapshot, lost it: that is an unreachable store, not a baseline one.
      let published: boolean;
      try {
        published = this.highestSnapshotVersion > 0 || (await this.bucket.list({ prefix: SNAPSHOT_HISTORY_PREFIX, limit: 1 })).objects.length > 0;
      } catch (error) {
        return this.outcome("unreachable", nowMs, () => this.conflict(nowMs, undefined, "store_unreachable", (error as Error).message));
      }
      if (published) return this.outcome("unreachable", nowMs, () => this.conflict(nowMs, undefined, "snapshot_missing", `${CURRENT_SNAPSHOT_KEY} is missing from a store that has published`));
      return this.outcome("unchanged", nowMs);
    }
    if (!("body" in object)) return this.outcome("unchanged", nowMs);
    let stored: StoredSnapshot;
    let snapshotVersion: number | undefined;
    try {
      const signedSnapshot = await storedJson(object, CURRENT_SNAPSHOT_KEY, MAX_SNAPSHOT_BYTES);
      const snapshot = await verifySnapshot(signedSnapshot, this.trust);
      snapshotVersion = snapshot.version;
      if (this.active && snapshot.version === this.active.snapshot.version) {
        // The same version must be the same snapshot: one rewritten under a version already seen is refused.
        if ((signedSnapshot as { signature?: unknown }).signature !== (this.active.signedSnapshot as { signature?: unknown }).signature) {
          throw new BundleError("snapshot_version_reused", `snapshot v${snapshot.version} is not the snapshot v${snapshot.version} this edge already holds`);
        }
        this.etag = object.etag;
        return this.outcome("unchanged", nowMs);
      }
      const layers: Record<string, StoredLayer> = {};
      for (const [scope, ref] of Object.entries(snapshot.layers)) {
        const reuse = this.active?.layers.get(scope);
        const unchanged = reuse && reuse.verified.manifest.version === ref.version && reuse.verified.manifest.digest === ref.digest;
        layers[scope] = unchanged ? reuse.stored : await readLayer(this.bucket, scope, ref.version);
      }
      const rollouts: Record<string, unknown> = {};
      for (const [scope, ref] of Object.entries(snapshot.rollout ?? {})) {
        const reuse = this.active?.rollouts.get(scope);
        const key = rolloutKey(scope, ref.version);
        const object = reuse?.version === ref.version ? undefined : await this.bucket.get(key);
        // One that cannot be read (not JSON, too large) is one that does not verify: its scope enforces.
        rollouts[scope] = object ? await storedJson(object, key, MAX_ROLLOUT_BYTES).catch(() => null) : reuse ? this.active!.signedRollouts[scope] : null;
      }
      stored = { signedSnapshot, layers, rollouts };
      await this.activate(stored, nowMs, object.etag, true);
      return this.outcome("activated", nowMs);
    } catch (error) {
      if (error instanceof BundleError) return this.outcome("refused", nowMs, () => this.conflict(nowMs, snapshotVersion, error.code, error.message));
      return this.outcome("unreachable", nowMs, () => this.conflict(nowMs, snapshotVersion, "store_unreachable", (error as Error).message));
    }
  }

  /** Records how a check went: a success confirms the policy; a failure starts (or continues) the stale period. */
  private outcome(outcome: RefreshOutcome, nowMs: number, effect?: () => void): RefreshOutcome {
    effect?.();
    this.lastOutcome = outcome;
    if (outcome === "unchanged" || outcome === "activated") {
      this.lastConfirmedMs = nowMs;
      this.failingSinceMs = undefined;
    } else {
      this.failingSinceMs ??= nowMs;
    }
    return outcome;
  }

  /**
   * Whether the store must be asked before this decision: the policy has not
   * been confirmed for longer than the staleness bound (an idle edge, or one
   * that is failing) and no check was tried within the last refresh interval.
   * An idle edge is thus never failed closed for being idle.
   */
  mustCheckFirst(nowMs: number): boolean {
    const confirmed = this.lastConfirmedMs ?? this.startedMs;
    return nowMs - confirmed > this.config.maxStalenessMs && nowMs - this.lastAttemptMs >= this.config.refreshIntervalMs;
  }

  /** Verifies a whole snapshot and swaps it in; throws BundleError and changes nothing on any fault. */
  private async activate(stored: StoredSnapshot, nowMs: number, etag: string | undefined, persist: boolean): Promise<void> {
    const snapshot = await verifySnapshot(stored.signedSnapshot, this.trust);
    if (snapshot.version < this.highestSnapshotVersion) {
      throw new BundleError("version_not_newer", `snapshot v${snapshot.version} is older than v${this.highestSnapshotVersion}, already seen`);
    }
    const layers = new Map<string, { verified: VerifiedLayer; stored: StoredLayer }>();
    const unchanged = new Set<string>();
    for (const [scope, ref] of Object.entries(snapshot.layers)) {
      const layer = stored.layers[scope];
      if (!layer) throw new BundleError("missing_file", `${scope} v${ref.version}: not available`);
      // A layer this isolate verified before, its very bytes still in hand, is not hashed again
      // (with many tenant layers, re-verifying all of them would make every publish cost them all).
      // An expired layer is no reason to refuse the snapshot: its publisher would then hold back
      // every other scope's layers, on every edge and in every new isolate. resolve() judges
      // expiry for the requests each layer governs.
      const previous = this.active?.layers.get(scope);
      const reused = previous !== undefined && previous.stored === layer && previous.verified.manifest.version === ref.version && previous.verified.manifest.digest === ref.digest;
      const verified = reused ? previous.verified : this.interned(await verifyLayer(layer.signedManifest, layer.files, this.trust, scope, nowMs, "judged_per_decision"), layer);
      if (reused) unchanged.add(scope);
      if (verified.manifest.version !== ref.version || verified.manifest.digest !== ref.digest) {
        throw new BundleError("snapshot_mismatch", `${scope}: store has v${verified.manifest.version} ${verified.manifest.digest}, snapshot binds v${ref.version} ${ref.digest}`);
      }
      const seen = this.highestLayerVersion.get(scope) ?? 0;
      if (ref.version < seen) throw new BundleError("version_not_newer", `${scope} v${ref.version} is older than v${seen}, already seen`);
      layers.set(scope, { verified, stored: layer });
    }
    const global = layers.get("global");
    if (!global) throw new BundleError("malformed", "snapshot has no global layer");
    const outOfBounds: string[] = [];
    for (const [scope, layer] of layers) {
      // Checked when either side is new; a pair already checked together is what it was then.
      if (scope === "global" || (unchanged.has(scope) && unchanged.has("global"))) continue;
      try {
        assertWithinParent(global.verified, layer.verified);
      } catch (error) {
        if (!(error instanceof BundleError) || error.code !== "loosens_parent") throw error;
        // Not a reason to refuse the snapshot: a global layer that tightens a parameter leaves every
        // override built on the old value out of bounds until it is rebuilt, and refusing would keep
        // the tightening from every edge meanwhile (any one tenant's publisher would hold it back).
        // The layer is composed as it is, beside the global one, and every answer and parameter takes
        // its strictest value across the layers: it can add refusals, never lift one.
        outOfBounds.push(error.message);
      }
    }
    const { verified: rollouts, unverified: unverifiedRollouts, signed: signedRollouts } = await this.verifyRollouts(snapshot, stored.rollouts ?? {}, nowMs);
    const next: ActiveState = { snapshot, signedSnapshot: stored.signedSnapshot, rollouts, unverifiedRollouts, signedRollouts, layers, policies: new Map() };
    const rest = await this.warmAll(next, this.active, 1);
    this.active = next;
    const inUse = new Set([...layers.values()].map(({ verified }) => verified.manifest.files["policy.wasm"]));
    for (const hash of this.wasmByHash.keys()) if (!inUse.has(hash)) this.wasmByHash.delete(hash);
    // The rest are warmed after the swap, in the background: a decision never waits for them.
    this.warming = rest().catch((error) => this.conflict(nowMs, snapshot.version, "warm_up_failed", (error as Error).message)).finally(() => {
      this.warming = undefined;
    });
    this.highestSnapshotVersion = snapshot.version;
    for (const [scope, layer] of layers) this.highestLayerVersion.set(scope, layer.verified.manifest.version);
    for (const message of outOfBounds) {
      this.conflict(nowMs, snapshot.version, "loosens_parent", `${message}; composed as it is, beside the global layer (it can only add refusals): rebuild it within the global layer's bounds`);
    }
    if (etag) this.etag = etag;
    if (persist) {
      await this.lkg.save(stored).catch((error) => this.conflict(nowMs, snapshot.version, "lkg_write_failed", String(error)));
    }
  }

  /**
   * Builds the sandboxes a new snapshot will need before it is swapped in,
   * so no decision builds one inline: the compositions this isolate was
   * using (each region and tenant that decided recently), and every tenant
   * layer in the snapshot for its pinned region or for each region seen.
   * The first `now` are warmed before this returns (the global composition,
   * which a cold start's first decision needs); the function it returns
   * warms the rest, up to a bound, and is run after the swap.
   */
  private async warmAll(next: ActiveState, previous: ActiveState | undefined, now: number): Promise<() => Promise<void>> {
    const recent = previous ? [...previous.policies.keys()].reverse().map((key) => key.split("\n") as [string, string]) : [];
    const regions = [...new Set([GLOBAL_REGION, this.config.region, ...recent.map(([regionList]) => regionList.split(",")[0])])];
    const targets: Array<[string[], string | undefined]> = [[[GLOBAL_REGION], undefined], ...recent.map(([regionList, tenant]): [string[], string | undefined] => [regionList.split(","), tenant || undefined])];
    for (const scope of next.layers.keys()) {
      if (!scope.startsWith("tenant:")) continue;
      const tenant = scope.slice("tenant:".length);
      const pin = pinOf(next, tenant);
      // A pinned tenant's requests from a region seen here are governed by that region's layer too.
      const compositions = pin ? [[pin], ...regions.filter((region) => region !== pin && region !== GLOBAL_REGION).map((region) => [pin, region])] : regions.map((region) => [region]);
      for (const composition of compositions) targets.push([composition, tenant]);
    }
    const keys = new Set<string>();
    const policies = targets
      .map(([regionList, tenant]) => this.compose(next, regionList, tenant))
      .filter((policy) => !keys.has(policy.key) && keys.add(policy.key))
      .slice(0, MAX_WARMED_PER_SNAPSHOT);
    for (const policy of policies.slice(0, now)) await this.warm(policy);
    return async () => {
      for (const policy of policies.slice(now)) await this.warm(policy);
    };
  }

  /** Work this store started that should outlive the request that caused it (warming sandboxes). */
  pendingWork(): Promise<unknown> | undefined {
    return this.warming;
  }

  private compose(state: ActiveState, regions: string[], tenant: string | undefined): ActivePolicy {
    const cacheKey = `${regions.join(",")}\n${tenant ?? ""}`;
    const existing = state.policies.get(cacheKey);
    if (existing) {
      state.policies.delete(cacheKey);
      state.policies.set(cacheKey, existing);
      return existing;
    }
    const chosen = chosenLayers(state, regions, tenant);
    const layers = chosen.map(({ verified }) => ({
      scope: verified.manifest.scope,
      digest: verified.manifest.digest,
      version: verified.manifest.version,
      built_at: verified.manifest.created,
    }));
    const policy: ActivePolicy = {
      key: compositionKey(layers),
      layers,
      code: () =>
        chosen.map(({ verified }) => ({
          scope: verified.manifest.scope,
          entrypoint: verified.manifest.entrypoint,
          wasm: verified.wasm,
          data: verified.data,
        })),
      data: chosen.map(({ verified }) => verified.data),
      isBaseline: false,
    };
    state.policies.set(cacheKey, policy);
    if (state.policies.size > MAX_COMPOSITIONS) state.policies.delete(state.policies.keys().next().value!);
    return policy;
  }

  /**
   * The snapshot's rollout documents that verify and are the ones it binds.
   * One that does not is replaced by an enforcing stand-in, so its scope
   * enforces (stricter) and still outranks less specific scopes, and the
   * conflict is logged; it never holds back the policy update itself.
   */
  private async verifyRollouts(snapshot: Snapshot, signed: Record<string, unknown>, nowMs: number) {
    const verified = new Map<string, RolloutDocument>();
    const unverified = new Map<string, RolloutDocument>();
    const kept: Record<string, unknown> = {};
    for (const [scope, ref] of Object.entries(snapshot.rollout ?? {})) {
      try {
        const document = await verifyRollout(signed[scope], this.trust, scope);
        if (document.version !== ref.version || (await rolloutDigest(document)) !== ref.digest) {
          throw new BundleError("snapshot_mismatch", `rollout of ${scope}: not the v${ref.version} the snapshot binds`);
        }
        verified.set(scope, document);
        kept[scope] = signed[scope];
      } catch (error) {
        this.conflict(nowMs, snapshot.version, (error as BundleError).code ?? "rollout_unusable", `${scope} enforces: ${(error as Error).message}`);
        unverified.set(scope, { scope, version: ref.version, mode: "enforce", shadow: null, created: snapshot.created, key_id: "unverified", note: "the document the snapshot binds did not verify: this scope enforces" });
      }
    }
    return { verified, unverified, signed: kept };
  }

  /**
   * The rollout documents in force for these scopes (scopes with none
   * enforce). A scope whose document did not verify answers with its
   * enforcing stand-in: dropping it would hand its place to a less specific
   * scope's document, which may be in observe mode.
   */
  rolloutsFor(scopes: string[]): RolloutDocument[] {
    return scopes.map((scope) => this.active?.rollouts.get(scope) ?? this.active?.unverifiedRollouts.get(scope)).filter((document) => document !== undefined);
  }

  /** The region a tenant's own layer pins it to (data residency), if it declares one. */
  tenantPin(tenant: string): string | undefined {
    return this.active ? pinOf(this.active, tenant) : undefined;
  }

  /**
   * The signed layers, exactly as stored, that compose the policy for a
   * tenant in some regions (governingRegions): what an agent needs to verify
   * and evaluate that policy itself (offline). Undefined while no store
   * snapshot is active.
   */
  signedLayers(tenant: string, regions: string[]): StoredLayer[] | undefined {
    return this.active ? chosenLayers(this.active, regions, tenant).map(({ stored }) => stored) : undefined;
  }

  /**
   * One copy of each distinct policy.wasm: tenant and region layers built
   * from the global rules with their own data carry the same compiled code,
   * so a thousand tenant layers hold one module's bytes, not a thousand.
   * Keyed by the sha256 the layer's verified manifest names.
   */
  private readonly wasmByHash = new Map<string, Uint8Array>();

  private interned(verified: VerifiedLayer, stored: StoredLayer): VerifiedLayer {
    const hash = verified.manifest.files["policy.wasm"];
    const known = this.wasmByHash.get(hash);
    if (!known) {
      this.wasmByHash.set(hash, verified.wasm);
      return verified;
    }
    stored.files["policy.wasm"] = known;
    return { ...verified, wasm: known };
  }

  /** The data of the global layer in force: the region table and the tier floors live there. */
  globalData(): unknown {
    return this.active?.layers.get("global")?.verified.data ?? BASELINE_POLICY.data[0];
  }

  /** The policy that decides for this tenant in these regions (governingRegions) now, and whether it may be used. */
  resolve(tenant: string, regions: string[], nowMs: number): Resolution {
    const confirmed = this.lastConfirmedMs ?? this.startedMs;
    const stale = this.failingSinceMs !== undefined || nowMs - confirmed > 2 * this.config.refreshIntervalMs;
    let unusable: Resolution["unusable"];
    // Staleness counts from the first failed check, not from the last success: an idle edge is not stale.
    const failingFor = this.failingSinceMs === undefined ? 0 : nowMs - this.failingSinceMs;
    if (failingFor > this.config.maxStalenessMs) {
      unusable = {
        code: "policy_stale",
        message: `the policy store has not been reached for ${Math.round(failingFor / 1000)} s (maximum ${Math.round(this.config.maxStalenessMs / 1000)} s)`,
      };
    }
    if (!this.active) return { policy: BASELINE_POLICY, source: "baseline", stale, unusable };
    // Only the layers that decide for this tenant here count: another tenant's expired layer is not this one's problem.
    const expired = Date.parse(this.active.snapshot.expires) <= nowMs
      ? `snapshot v${this.active.snapshot.version}`
      : chosenLayers(this.active, regions, tenant).find(({ verified }) => Date.parse(verified.manifest.expires) <= nowMs)?.verified.manifest.scope;
    if (expired) unusable = { code: "policy_expired", message: `the active policy (${expired}) has expired` };
    return { policy: this.compose(this.active, regions, tenant), source: "store", stale, unusable };
  }

  status(nowMs: number) {
    return {
      region: this.config.region,
      snapshot_version: this.active?.snapshot.version ?? null,
      layers: this.active ? [...this.active.layers.values()].map(({ verified }) => ({ scope: verified.manifest.scope, version: verified.manifest.version, digest: verified.manifest.digest })) : [],
      last_confirmed: this.lastConfirmedMs ? new Date(this.lastConfirmedMs).toISOString() : null,
      last_outcome: this.lastOutcome ?? null,
      staleness_ms: nowMs - (this.lastConfirmedMs ?? this.startedMs),
      failing_since: this.failingSinceMs === undefined ? null : new Date(this.failingSinceMs).toISOString(),
      conflicts: this.conflicts,
    };
  }

  private conflict(nowMs: number, snapshotVersion: number | undefined, code: string, message: string): void {
    console.error(`tollgate policy store [${this.config.region}]: ${code}: ${message}`);
    this.conflicts.unshift({ at: new Date(nowMs).toISOString(), snapshot_version: snapshotVersion, code, message });
    this.conflicts.length = Math.min(this.conflicts.length, MAX_CONFLICTS);
  }
}

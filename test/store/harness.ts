/**
 * Shared pieces for the bundle-store tests: sign the layers the global setup
 * built, publish them into the test bucket, plant hand-made (tampered)
 * objects in it, and run edges — each a PolicyStore for one region plus the
 * real sandbox engine — against that one shared store.
 */
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import { layerDigest, sha256Hex } from "../../src/bundles/canonical";
import type { LayerManifest, Signed, Snapshot } from "../../src/bundles/manifest";
import { PolicyStore } from "../../src/bundles/policy-store";
import { publishLayer, type PublishContext } from "../../src/bundles/publisher";
import { signDocument } from "../../src/bundles/signature";
import { CURRENT_SNAPSHOT_KEY, layerKey } from "../../src/bundles/store-layout";
import { trustStoreFrom } from "../../src/bundles/trust";
import { DecisionEngine } from "../../src/engine/decision-engine";
import { evaluate } from "../../src/decision/pipeline";
import { fallbackParams } from "../../src/engine/fallback-params";
import { effectiveTier } from "../../src/decision/effective-tier";
import type { RiskTier } from "../../src/types";
import { withIdentity } from "../fixtures/policy-identity";

const { layers, keys } = inject("storeFixtures");

export const bucket = (env as unknown as { TEST_BUNDLES: R2Bucket }).TEST_BUNDLES;
export const trust = trustStoreFrom(env.TRUST_STORE);
export const engine = new DecisionEngine(env.LOADER);
export const T0 = Date.parse("2026-11-23T12:00:00Z");

const KEY_FOR_SCOPE: Record<string, string> = {
  global: "global-test",
  "region:eu": "eu-test",
  "region:us": "us-test",
  "region:apac": "apac-test",
  "tenant:acme": "tenants-test",
  "tenant:globex": "tenants-test",
};

export function layerFiles(scope: string): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(layers[scope].files).map(([name, b64]) => [name, Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]));
}

export interface SignOptions {
  version: number;
  keyId?: string;
  nowMs?: number;
  files?: Record<string, Uint8Array>;
  /** Sign the manifest as if for another scope. */
  scope?: string;
  expiresInMs?: number;
}

/** A signed manifest for the scope's built layer (or for replacement files, re-hashed). */
export async function signLayer(scope: string, options: SignOptions): Promise<{ manifest: Signed<LayerManifest>; files: Record<string, Uint8Array> }> {
  const files = options.files ?? layerFiles(scope);
  const draft = layers[scope].draft as Omit<LayerManifest, "version" | "created" | "expires" | "key_id">;
  const hashes = { "policy.wasm": await sha256Hex(files["policy.wasm"]), "data.json": await sha256Hex(files["data.json"]) };
  const now = options.nowMs ?? T0;
  const document: LayerManifest = {
    ...draft,
    scope: options.scope ?? scope,
    files: hashes,
    digest: await layerDigest(draft.entrypoint, hashes),
    version: options.version,
    created: new Date(now).toISOString(),
    expires: new Date(now + (options.expiresInMs ?? 30 * 86_400_000)).toISOString(),
    key_id: options.keyId ?? KEY_FOR_SCOPE[scope],
  };
  return { manifest: { document, signature: await signDocument(document, keys[document.key_id]) }, files };
}

export function publishContext(nowMs = T0): PublishContext {
  return { bucket, trust, snapshotKey: { id: "snapshot-test", privateJwk: keys["snapshot-test"] }, actor: "test-suite", nowMs };
}

export async function publish(scope: string, options: SignOptions) {
  const { manifest, files } = await signLayer(scope, options);
  return publishLayer(publishContext(options.nowMs), scope, manifest, files);
}

/** A signed rollout document for `scope` (its mode and shadow), signed with `keyId`. */
export async function signRollout(scope: string, change: { version: number; mode?: "enforce" | "observe"; shadow?: { version: number; digest: string } | null }, keyId = "rollout-test") {
  const document = { scope, version: change.version, mode: change.mode ?? "enforce", shadow: change.shadow ?? null, created: new Date().toISOString(), key_id: keyId };
  return { document, signature: await signDocument(document, keys[keyId]) };
}

/** Writes a layer straight into the store, past every publish-time check, as an attacker with bucket access could. */
export async function plantLayer(scope: string, version: number, manifest: unknown, files: Record<string, Uint8Array>): Promise<void> {
  for (const [name, bytes] of Object.entries(files)) await bucket.put(layerKey(scope, version, name), bytes);
  await bucket.put(layerKey(scope, version, "manifest.json"), JSON.stringify(manifest));
}

/** Writes a validly signed snapshot binding the given layers as the current one. */
export async function plantSnapshot(version: number, layerRefs: Snapshot["layers"], nowMs = T0): Promise<void> {
  const document: Snapshot = {
    version,
    created: new Date(nowMs).toISOString(),
    expires: new Date(nowMs + 30 * 86_400_000).toISOString(),
    layers: layerRefs,
    key_id: "snapshot-test",
  };
  await bucket.put(CURRENT_SNAPSHOT_KEY, JSON.stringify({ document, signature: await signDocument(document, keys["snapshot-test"]) }));
}

export async function currentSnapshot(): Promise<Snapshot> {
  return ((await (await bucket.get(CURRENT_SNAPSHOT_KEY))!.json()) as Signed<Snapshot>).document;
}

export async function emptyBucket(): Promise<void> {
  let listed = await bucket.list();
  while (listed.objects.length > 0) {
    await bucket.delete(listed.objects.map((o) => o.key));
    listed = await bucket.list();
  }
}

let edgeCounter = 0;

export interface Edge {
  region: string;
  store: PolicyStore;
  decide(input: DecisionInput, nowMs: number): Promise<{ decision: string; rules: string[]; layers: Array<{ scope: string; version: number }>; stale: boolean }>;
}

export interface DecisionInput {
  risk_tier: RiskTier;
  tenant: string;
  [key: string]: unknown;
}

/** One edge location: its own PolicyStore (own memory, own cache entry) over the shared bucket. */
export function edge(
  region: string,
  options: { bucket?: R2Bucket; refreshIntervalMs?: number; maxStalenessMs?: number; cacheKey?: string; engine?: DecisionEngine; newestPublished?: () => Promise<number> } = {},
): Edge {
  const decider = options.engine ?? engine;
  const store = new PolicyStore(
    options.bucket ?? bucket,
    trust,
    {
      region,
      refreshIntervalMs: options.refreshIntervalMs ?? 30_000,
      maxStalenessMs: options.maxStalenessMs ?? 600_000,
      cacheKey: options.cacheKey ?? `test-${region}-${++edgeCounter}-${crypto.randomUUID()}`,
      ...(options.newestPublished ? { newestPublished: options.newestPublished } : {}),
    },
    T0,
    (policy) => decider.warm(policy),
  );
  return {
    region,
    store,
    async decide(input, nowMs) {
      const resolution = store.resolve(input.tenant, [region], nowMs);
      // As the pipeline does: the effective tier from the layers' floors, the fallback from their data.
      const agent = (input.agent ?? {}) as { role?: string };
      const action = (input.action ?? {}) as { type?: string; tool?: string };
      const tier = effectiveTier(resolution.policy.data, action, input.risk_tier, "low").tier;
      const fallback = fallbackParams(resolution.policy.data, tier, agent.role ?? "support", action.tool);
      const result = await evaluate(decider, resolution, JSON.stringify(withIdentity({ ...input, risk_tier: tier })), fallback, nowMs);
      return {
        decision: result.decision.decision,
        rules: result.decision.reasons.map((r) => r.rule),
        layers: resolution.policy.layers.map((l) => ({ scope: l.scope, version: l.version })),
        stale: resolution.stale || resolution.unusable !== undefined,
      };
    },
  };
}

/** A ticket read: its floor is low, so the declared tier is the one it is judged at. */
export function ticketRead(tenant = "initech", tier: RiskTier = "low"): DecisionInput {
  return { risk_tier: tier, tenant, agent: { id: "agent-7", role: "finance" }, session: { id: "s-1" }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } };
}

export function refund(amount: number, tenant = "initech", tier: RiskTier = "high"): DecisionInput {
  return {
    risk_tier: tier,
    tenant,
    agent: { id: "agent-7", role: "finance" },
    session: { id: "s-1" },
    action: { type: "tool_call", tool: "payments.refund", args: { amount, currency: "EUR" } },
  };
}

/**
 * @module signed-policy
 * The last signed policy an agent fetched from its edge, held so it can
 * decide when no edge can be reached. It is the very composition the edge
 * uses for the agent's tenant and region (global, region, tenant layers),
 * verified the way the edge verifies it (signature by a trusted key for
 * that scope, exact files and digests, expiry, a child layer within its
 * parent's bounds) against the edge's trust store, and evaluated by the
 * edge's own evaluator and builtins, composed by the edge's own rules.
 *
 * A bundle that fails any check is refused and the policy held before stays
 * in place. The trust store is the one given, or the edge's published one,
 * fetched once and then pinned: a later edge cannot swap it.
 */
import { verifyLayer, assertWithinParent, type VerifiedLayer } from "../../../../src/bundles/verify.ts";
import { fromBase64Url } from "../../../../src/bundles/signature.ts";
import { trustStoreSchema, type TrustStore } from "../../../../src/bundles/manifest.ts";
import { composeLayers } from "../../../../src/engine/compose.ts";
import { fallbackParams, failModeOf } from "../../../../src/engine/fallback-params.ts";
import { receiptParams } from "../../../../src/engine/receipt-params.ts";
import { PolicyEvaluationError, PolicyEvaluator } from "../../../../src/engine/evaluator.ts";
import type { LayerOutcome } from "../../../../src/engine/sandbox-protocol.ts";
import { effectiveTier } from "../../../../src/decision/effective-tier.ts";
import { policyInput } from "../../../../src/decision/policy-input.ts";
import { decisionBodySchema } from "../../../../src/schema/decision-input.ts";
import { isRiskTier } from "../../../../src/schema/risk-tier.ts";
import type { Identity } from "../../../../src/identity/types.ts";
import type { RiskTier } from "../../../../src/types.ts";
import type { EdgeTransport } from "../edge-transport.ts";
import { TollgateError } from "../errors.ts";
import type { HeldPolicy, LocalAnswer, LocalPolicy, LocalRequest } from "../local-policy.ts";

/** The edge's trust store (public keys, the scopes each may sign, revocations), as /.well-known/tollgate-trust.json gives it. */
export interface TrustKeys {
  keys: Array<{ id: string; public_key: string; scopes: string[]; revoked?: boolean }>;
}

export interface SignedPolicyOptions {
  /** The trust store to verify layers against; by default the edge's published one, pinned on first fetch. */
  trust?: TrustKeys;
  /** How often the held policy is checked against the edge's while online (default 60 s). */
  refreshIntervalMs?: number;
}

interface BundleResponse {
  tenant: string;
  region: string;
  /** A pinned tenant calling from another region: that region's layer governs too, after the pinned one. */
  located_region?: string;
  layers: Array<{ manifest: unknown; files: Record<string, string> }>;
}

interface Loaded {
  tenant: string;
  region: string;
  key: string;
  layers: VerifiedLayer[];
  evaluators: PolicyEvaluator[];
}

/** The order the edge composes layers in, and the only scopes a tenant's composition may hold. */
function expectedScopes(tenant: string, region: string, located: string | undefined): string[] {
  return ["global", `region:${region}`, ...(located === undefined ? [] : [`region:${located}`]), `tenant:${tenant}`];
}

function evaluateLayer(scope: string, evaluator: PolicyEvaluator, inputJson: string, nowMs: number, region: string, bundles: Record<string, { digest: string; version: number }>): LayerOutcome {
  try {
    return { scope, result: evaluator.evaluate(inputJson, nowMs, { location: "offline", region, bundles }).result };
  } catch (error) {
    const code = error instanceof PolicyEvaluationError ? error.code : "policy_aborted";
    return { scope, error: { code, message: (error as Error).message } };
  }
}

export class SignedPolicy implements LocalPolicy {
  private loaded: Loaded | undefined;
  private trust: TrustStore | undefined;
  private refreshing: Promise<void> | undefined;
  private lastCheckMs = Number.NEGATIVE_INFINITY;
  /** Why the last fetched bundle was refused, if it was. */
  lastRefusal: string | undefined;

  constructor(private readonly options: SignedPolicyOptions = {}) {
    if (typeof (JSON as { rawJSON?: unknown }).rawJSON !== "function") {
      throw new TollgateError("local evaluation needs JSON.rawJSON (Node 21 or later, Deno, current Chromium)", "unsupported_runtime");
    }
    if (options.trust) {
      const parsed = trustStoreSchema.safeParse(options.trust);
      if (!parsed.success) throw new TollgateError(`the trust store given is malformed: ${parsed.error.issues[0].message}`, "bad_trust_store");
      this.trust = parsed.data;
    }
  }

  refresh(transport: EdgeTransport, nowMs: number): Promise<void> {
    if (this.refreshing) return this.refreshing;
    if (nowMs - this.lastCheckMs < (this.options.refreshIntervalMs ?? 60_000)) return Promise.resolve();
    this.lastCheckMs = nowMs;
    this.refreshing = this.fetchAndLoad(transport, nowMs).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async trustStore(transport: EdgeTransport): Promise<TrustStore> {
    if (this.trust) return this.trust;
    const { body } = await transport.call("GET", "/.well-known/tollgate-trust.json", { anonymous: true });
    const parsed = trustStoreSchema.safeParse(body);
    if (!parsed.success) throw new TollgateError("the edge's trust store is malformed", "bad_trust_store");
    this.trust = parsed.data;
    return this.trust;
  }

  private async fetchAndLoad(transport: EdgeTransport, nowMs: number): Promise<void> {
    const trust = await this.trustStore(transport);
    const { body } = await transport.call<BundleResponse>("GET", "/v1/policy/bundle");
    try {
      this.loaded = await this.load(body, trust, nowMs);
      this.lastRefusal = undefined;
    } catch (error) {
      this.lastRefusal = (error as Error).message;
      throw new TollgateError(`the edge's policy bundle was refused, the held policy stays: ${this.lastRefusal}`, "bundle_refused");
    }
  }

  private async load(bundle: BundleResponse, trust: TrustStore, nowMs: number): Promise<Loaded> {
    if (!bundle || typeof bundle.tenant !== "string" || typeof bundle.region !== "string" || !Array.isArray(bundle.layers) || bundle.layers.length === 0) {
      throw new Error("not a policy bundle");
    }
    if (bundle.located_region !== undefined && (typeof bundle.located_region !== "string" || bundle.located_region === bundle.region)) throw new Error("not a policy bundle");
    const allowed = expectedScopes(bundle.tenant, bundle.region, bundle.located_region);
    const layers: VerifiedLayer[] = [];
    for (const layer of bundle.layers) {
      const scope = (layer?.manifest as { document?: { scope?: unknown } } | undefined)?.document?.scope;
      const position = allowed.indexOf(String(scope));
      const previous = layers.length === 0 ? -1 : allowed.indexOf(layers[layers.length - 1].manifest.scope);
      if (position < 0 || position <= previous || (layers.length === 0 && position !== 0)) throw new Error(`layer ${String(scope)} does not belong in this composition here`);
      if (typeof layer.files !== "object" || layer.files === null) throw new Error(`${String(scope)}: no files`);
      const files = Object.fromEntries(Object.entries(layer.files).map(([name, text]) => [name, fromBase64Url(String(text))]));
      layers.push(await verifyLayer(layer.manifest, files, trust, String(scope), nowMs));
    }
    for (const layer of layers.slice(1)) assertWithinParent(layers[0], layer);
    const evaluators = await Promise.all(layers.map(async (layer) => PolicyEvaluator.load(await WebAssembly.compile(layer.wasm as Uint8Array<ArrayBuffer>), layer.data, layer.manifest.entrypoint)));
    // The key the edge gives this composition (policy-store.ts): computed here, not taken from the answer.
    const key = layers.map((layer) => layer.manifest.digest.slice(7, 23)).join("+");
    return { tenant: bundle.tenant, region: bundle.region, key, layers, evaluators };
  }

  held(): HeldPolicy | undefined {
    const loaded = this.loaded;
    if (!loaded) return undefined;
    const data = loaded.layers.map((layer) => layer.data);
    const refs = loaded.layers.map(({ manifest }) => ({ scope: manifest.scope, digest: manifest.digest, version: manifest.version }));
    const asTier = (value: string | undefined): RiskTier | undefined => (isRiskTier(value) ? value : undefined);
    return {
      key: loaded.key,
      region: loaded.region,
      offline: receiptParams(data).offline,
      expiresMs: Math.min(...loaded.layers.map((layer) => Date.parse(layer.manifest.expires))),
      tierOf: (action, declared, registered) => effectiveTier(data, action as never, asTier(declared), asTier(registered) ?? "critical").tier,
      failMode: (tier) => failModeOf(data, asTier(tier) ?? "critical"),
      evaluate: async (request: LocalRequest): Promise<LocalAnswer> => {
        if (request.identity.tenant !== loaded.tenant) throw new TollgateError(`the held policy is tenant ${loaded.tenant}'s, not ${request.identity.tenant}'s`, "wrong_tenant");
        const parsed = decisionBodySchema.safeParse({ session: request.session, action: request.action, ...(request.tier ? { risk_tier: request.tier } : {}) });
        if (!parsed.success) throw new TollgateError(`invalid action: ${parsed.error.issues[0].message}`, "invalid_input");
        const identity = request.identity as unknown as Identity;
        const tier = effectiveTier(data, parsed.data.action, parsed.data.risk_tier, asTier(identity.registration.risk_tier) ?? "critical");
        const input = policyInput(parsed.data, identity, tier, { region: loaded.region, source: "offline" }, "offline");
        const json = JSON.stringify(input);
        const bundles = Object.fromEntries(refs.map(({ scope, digest, version }) => [scope, { digest, version }]));
        const outcomes = loaded.evaluators.map((evaluator, i) => evaluateLayer(refs[i].scope, evaluator, json, request.nowMs, loaded.region, bundles));
        const tool = typeof parsed.data.action.tool === "string" ? parsed.data.action.tool : undefined;
        const decision = composeLayers(outcomes, fallbackParams(data, tier.tier, identity.role, tool));
        const cost = decision.cost ?? {};
        return {
          decision: decision.decision,
          reasons: decision.reasons,
          obligations: decision.obligations,
          tier: tier.tier,
          cost: { tokens: cost.tokens ?? 0, api_calls: cost.api_calls ?? 1, cost_usd: cost.cost_usd ?? 0 },
          layers: refs,
          key: loaded.key,
          region: loaded.region,
        };
      },
    };
  }
}

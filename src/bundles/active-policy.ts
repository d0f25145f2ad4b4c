/**
 * @module active-policy
 * The policy an edge decides with: its layers (scope, digest, version) and a
 * way to get their code for the sandbox. Until a bundle arrives from the
 * store, the active policy is the baseline compiled into the deploy.
 */
import type { LayerCode } from "../engine/sandbox-modules";
import type { LayerRef } from "../types";
import { BASELINE_LAYER, BASELINE_REF } from "./baseline";

export interface ActivePolicy {
  /** Identifies the exact combination of layers; the sandbox is cached under it. */
  key: string;
  layers: LayerRef[];
  code: () => LayerCode[];
  /** Each layer's data (`data.json`), in order: where the edge reads tier floors and the region table. */
  data: unknown[];
  /** True when this is the policy compiled into the deploy. */
  isBaseline: boolean;
}

/** The key of a combination of layers: their digests' first 16 hex digits, in order. */
export function compositionKey(layers: LayerRef[]): string {
  return layers.map((layer) => layer.digest.slice(7, 23)).join("+");
}

/**
 * The same policy without its most specific layers: the first `count`
 * (global, then region), under the key the store gives that combination, so
 * its sandbox is the one other requests already use.
 */
export function withoutLayersAfter(policy: ActivePolicy, count: number): ActivePolicy {
  const layers = policy.layers.slice(0, count);
  return { key: compositionKey(layers), layers, code: () => policy.code().slice(0, count), data: policy.data.slice(0, count), isBaseline: false };
}

export const BASELINE_POLICY: ActivePolicy = {
  key: BASELINE_REF.digest,
  layers: [BASELINE_REF],
  code: () => [BASELINE_LAYER],
  data: [BASELINE_LAYER.data],
  isBaseline: true,
};

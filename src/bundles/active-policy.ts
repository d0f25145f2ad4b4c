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

export const BASELINE_POLICY: ActivePolicy = {
  key: BASELINE_REF.digest,
  layers: [BASELINE_REF],
  code: () => [BASELINE_LAYER],
  data: [BASELINE_LAYER.data],
  isBaseline: true,
};

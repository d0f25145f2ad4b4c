/**
 * @module baseline
 * The global policy compiled into the deploy. A wasm module imported at build
 * time is already a `WebAssembly.Module`, which the edge may instantiate in
 * its own isolate (compiling bytes is refused), so a cold location can decide
 * before anything else answers, and decisions continue if the sandbox cannot
 * be used.
 */
import baselineWasm from "../../build/global/policy.wasm";
import baselineData from "../../build/global/data.json";
import baselineManifest from "../../build/global/manifest.json";
import type { LayerCode } from "../engine/sandbox-modules";
import type { LayerRef } from "../types";

export interface BundleManifest {
  scope: string;
  version: number;
  entrypoint: string;
  digest: string;
  files: Record<string, string>;
  built_at: string;
  opa_version: string;
}

export const BASELINE_MANIFEST = baselineManifest as BundleManifest;

export const BASELINE_LAYER: LayerCode = {
  scope: BASELINE_MANIFEST.scope,
  entrypoint: BASELINE_MANIFEST.entrypoint,
  wasm: baselineWasm,
  data: baselineData,
};

export const BASELINE_REF: LayerRef = {
  scope: BASELINE_MANIFEST.scope,
  digest: BASELINE_MANIFEST.digest,
  version: BASELINE_MANIFEST.version,
  built_at: BASELINE_MANIFEST.built_at,
};

/**
 * @module layer-build
 * Builds one policy layer from source. The global layer is policies/global as
 * it is. A region or tenant layer is a directory with a data.json of
 * parameter overrides (and, optionally, Rego rules of its own in package
 * tollgate, with tests): it is compiled together with the global rules and
 * the global parameters with its overrides applied, so a region can lower a
 * limit for itself without rewriting a rule. A layer that would loosen the
 * global one is refused here, before anything is signed, naming the
 * parameter.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { checkBounds, mergeParams, type LayerData } from "../../src/bundles/bounds.ts";
import { layerDigest } from "../../src/bundles/canonical.ts";
import { REGION_PATTERN } from "../../src/decision/region.ts";
import { OPA_VERSION, ROOT } from "../toolchain.mjs";
import { sha256Hex } from "./digest.ts";
import { opaBuildWasm, opaCheck, opaTest } from "./opa.ts";

export const DECISION_ENTRYPOINT = "tollgate/decision";

/** The manifest before signing: `tollgate sign` adds version, created, expires and key_id. */
export interface LayerDraft {
  scope: string;
  entrypoint: string;
  files: { "policy.wasm": string; "data.json": string };
  digest: string;
  rules: string[];
  opa_version: string;
}

export interface BuiltLayer {
  draft: LayerDraft;
  files: { "policy.wasm": Uint8Array; "data.json": Uint8Array };
  tests: number;
}

export class LayerBuildError extends Error {}

/** Where a scope's sources live by convention. */
export function sourceDirFor(scope: string): string {
  if (scope === "global") return join(ROOT, "policies", "global");
  const [kind, name] = scope.split(":");
  if (kind === "region") return join(ROOT, "policies", "regions", name);
  if (kind === "tenant") return join(ROOT, "policies", "tenants", name);
  throw new LayerBuildError(`unknown scope ${scope}`);
}

const regoFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".rego"));

/** Rule ids a layer can raise: every `reason("<id>", …)` in its Rego. */
function ruleIds(dir: string): string[] {
  const ids = new Set<string>();
  for (const file of regoFiles(dir).filter((f) => !f.endsWith("_test.rego"))) {
    for (const match of readFileSync(join(dir, file), "utf8").matchAll(/reason\("([a-z][a-z0-9_]*)"/g)) ids.add(match[1]);
  }
  return [...ids].sort();
}

/** A layer's `tollgate` document: parameters and bounds, and for a tenant its pinned region. */
type LayerSource = LayerData & { residency?: unknown };

function readLayerData(dir: string): LayerSource {
  const text = readFileSync(join(dir, "data.json"), "utf8");
  return ((JSON.parse(text) as { tollgate?: LayerSource }).tollgate ?? {}) as LayerSource;
}

/** A tenant may pin the region that governs it (data residency); no other layer may. */
function residencyOf(scope: string, overrides: LayerSource): { region: string } | undefined {
  if (overrides.residency === undefined) return undefined;
  if (!scope.startsWith("tenant:")) throw new LayerBuildError(`${scope}: only a tenant layer may declare residency`);
  const region = (overrides.residency as { region?: unknown } | null)?.region;
  if (typeof region !== "string" || !REGION_PATTERN.test(region) || region === "global") {
    throw new LayerBuildError(`${scope}: residency.region must name a region (lowercase letters, digits, dashes)`);
  }
  return { region };
}

/**
 * Writes a layer's Rego and effective data.json into `work`: the global
 * layer as it is, or the global rules plus a region's or tenant's own, with
 * the global parameters and its overrides applied. Refuses an override that
 * would loosen the global layer, naming the parameter.
 */
export function stageLayerSources(scope: string, work: string, sourceDir = sourceDirFor(scope)): void {
  const globalDir = sourceDirFor("global");
  if (scope === "global") {
    // Named as every other layer stages them, so a layer that only changes data compiles to the global layer's very bytes.
    for (const file of regoFiles(sourceDir)) copyFileSync(join(sourceDir, file), join(work, `global_${file}`));
    copyFileSync(join(sourceDir, "data.json"), join(work, "data.json"));
    return;
  }
  const parent = readLayerData(globalDir);
  const overrides = readLayerData(sourceDir);
  const residency = residencyOf(scope, overrides);
  const effective: LayerSource = {
    params: mergeParams(parent.params, overrides.params ?? {}) as Record<string, unknown>,
    bounds: parent.bounds,
    ...(residency ? { residency } : {}),
  };
  const violations = checkBounds(parent, effective);
  if (violations.length > 0) {
    throw new LayerBuildError(`${scope} would loosen the global layer:\n${violations.map((v) => `  - ${v.message}`).join("\n")}`);
  }
  // Global rules (not their tests: those pin the global parameters) plus the layer's own rules and tests.
  for (const file of regoFiles(globalDir).filter((f) => !f.endsWith("_test.rego"))) copyFileSync(join(globalDir, file), join(work, `global_${file}`));
  for (const file of regoFiles(sourceDir)) copyFileSync(join(sourceDir, file), join(work, `${basename(sourceDir)}_${file}`));
  writeFileSync(join(work, "data.json"), JSON.stringify({ tollgate: effective }, null, 2));
}

export async function buildLayer(scope: string, sourceDir = sourceDirFor(scope)): Promise<BuiltLayer> {
  const globalDir = sourceDirFor("global");
  const work = mkdtempSync(join(tmpdir(), "tollgate-layer-"));
  try {
    stageLayerSources(scope, work, sourceDir);
    opaCheck(work);
    const tests = opaTest(work);
    const compiled = await opaBuildWasm(work, DECISION_ENTRYPOINT);
    const data = new TextEncoder().encode(compiled.dataText);
    const files = { "policy.wasm": compiled.wasm, "data.json": data };
    const hashes = { "policy.wasm": sha256Hex(files["policy.wasm"]), "data.json": sha256Hex(files["data.json"]) };
    const rules = [...new Set([...ruleIds(globalDir), ...(scope === "global" ? [] : ruleIds(sourceDir))])].sort();
    return {
      draft: { scope, entrypoint: DECISION_ENTRYPOINT, files: hashes, digest: await layerDigest(DECISION_ENTRYPOINT, hashes), rules, opa_version: OPA_VERSION },
      files,
      tests,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The same layer with other data: its files re-hashed and its digest made
 * anew, as a build of changed data.json would give (the benchmark publishes
 * a new digest each time, so every activation builds a new sandbox).
 */
export async function withData(layer: BuiltLayer, data: unknown): Promise<BuiltLayer> {
  const files = { "policy.wasm": layer.files["policy.wasm"], "data.json": new TextEncoder().encode(JSON.stringify(data)) };
  const hashes = { "policy.wasm": sha256Hex(files["policy.wasm"]), "data.json": sha256Hex(files["data.json"]) };
  return { ...layer, files, draft: { ...layer.draft, files: hashes, digest: await layerDigest(layer.draft.entrypoint, hashes) } };
}

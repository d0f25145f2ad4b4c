/**
 * @module build-policies
 * `npm run build:policies`: checks, tests and compiles the global policy to
 * wasm, then records the artifact's digest in build/global/manifest.json.
 * A policy that fails `opa check --strict` or `opa test` produces no
 * artifact: the previous build output is removed first, so nothing stale can
 * be deployed by mistake.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OPA_VERSION, ROOT } from "./toolchain.mjs";
import { layerDigest } from "../src/bundles/canonical.ts";
import { sha256Hex } from "./lib/digest.ts";
import { OpaError, opaBuildWasm, opaCheck, opaTest } from "./lib/opa.ts";

export const DECISION_ENTRYPOINT = "tollgate/decision";

export async function buildGlobalPolicy(): Promise<{ digest: string; tests: number }> {
  const source = join(ROOT, "policies", "global");
  const out = join(ROOT, "build", "global");
  rmSync(out, { recursive: true, force: true });

  opaCheck(source);
  const tests = opaTest(source);
  const compiled = await opaBuildWasm(source, DECISION_ENTRYPOINT);

  const fileHashes = { "policy.wasm": sha256Hex(compiled.wasm), "data.json": sha256Hex(compiled.dataText) };
  const digest = await layerDigest(DECISION_ENTRYPOINT, fileHashes);
  const manifest = {
    scope: "global",
    version: 0,
    entrypoint: DECISION_ENTRYPOINT,
    digest,
    files: fileHashes,
    built_at: new Date().toISOString(),
    opa_version: OPA_VERSION,
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "policy.wasm"), compiled.wasm);
  writeFileSync(join(out, "data.json"), compiled.dataText);
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return { digest, tests };
}

if (import.meta.main) {
  try {
    const { digest, tests } = await buildGlobalPolicy();
    console.log(`policies/global: ${tests} tests passed, built ${digest}`);
  } catch (error) {
    if (error instanceof OpaError) {
      console.error(`policies/global: ${error.step} failed, no artifact written\n${error.output.trim()}`);
    } else {
      console.error(`policies/global: ${(error as Error).message}`);
    }
    process.exit(1);
  }
}

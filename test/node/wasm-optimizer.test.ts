/**
 * The build's last step over OPA's output (scripts/lib/opa-wasm-rewrite.ts):
 * binaryen's optimizer runs over the rewritten module, so the small runtime
 * calls a rule makes at every step are inlined into it, and binaryen's own
 * settings are left as the build found them. What the optimized code
 * decides is tested against `opa eval` by every differential test, which
 * runs it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import binaryen from "binaryen";
import { describe, expect, it } from "vitest";
import { opaBuildWasm, opaBundleFile } from "../../scripts/lib/opa.ts";
import { rewriteOpaWasm } from "../../scripts/lib/opa-wasm-rewrite.ts";
import { ensureOpa } from "../../scripts/toolchain.mjs";
import { loadEvaluator } from "../fixtures/node-evaluator.ts";
import { ruleCalls } from "../fixtures/wasm-calls.ts";

const FIXTURE = "test/fixtures/memo-table";

/** OPA's own output for the fixture, before the build touches it. */
async function opaOutput(): Promise<Uint8Array> {
  const work = mkdtempSync(join(tmpdir(), "tollgate-optimizer-"));
  try {
    const bundle = join(work, "bundle.tar.gz");
    const run = spawnSync(ensureOpa({ quiet: true }), ["build", "-t", "wasm", "-e", "memo/result", "-o", bundle, "."], { cwd: resolve(FIXTURE), encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    return await opaBundleFile(bundle, "policy.wasm");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe("the build's optimizer", () => {
  it("inlines the memo table's lookups into the rules, and the rules still answer", async () => {
    // OPA's output calls the memo table's functions from every memoized rule...
    const before = ruleCalls(await opaOutput());
    expect(before.get("opa_memoize_get")).toBeGreaterThan(0);
    expect(before.get("opa_memoize_insert")).toBeGreaterThan(0);
    const { wasm, dataText } = await opaBuildWasm(FIXTURE, "memo/result");
    const calls = ruleCalls(wasm);
    // ...the build's rules still call the runtime (a lookup, a comparison), but not those one-load functions.
    expect(calls.size).toBeGreaterThan(0);
    expect(calls.get("opa_memoize_get")).toBeUndefined();
    expect(calls.get("opa_memoize_insert")).toBeUndefined();
    const evaluator = await loadEvaluator(await WebAssembly.compile(new Uint8Array(wasm)), dataText, "memo/result");
    expect((evaluator.evaluate(JSON.stringify({ x: 3 }), 0).result as { doubled: number }).doubled).toBe(6);
  });

  it("leaves binaryen's settings as it found them", async () => {
    const wasm = await opaOutput();
    const before = { debugInfo: binaryen.getDebugInfo(), optimizeLevel: binaryen.getOptimizeLevel(), shrinkLevel: binaryen.getShrinkLevel() };
    binaryen.setDebugInfo(false);
    binaryen.setOptimizeLevel(1);
    binaryen.setShrinkLevel(2);
    try {
      expect(rewriteOpaWasm(wasm).length).toBeGreaterThan(0);
      expect({ debugInfo: binaryen.getDebugInfo(), optimizeLevel: binaryen.getOptimizeLevel(), shrinkLevel: binaryen.getShrinkLevel() }).toEqual({
        debugInfo: false,
        optimizeLevel: 1,
        shrinkLevel: 2,
      });
    } finally {
      binaryen.setDebugInfo(before.debugInfo);
      binaryen.setOptimizeLevel(before.optimizeLevel);
      binaryen.setShrinkLevel(before.shrinkLevel);
    }
  });
});

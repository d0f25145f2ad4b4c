/**
 * @module build-agent
 * Builds the `@tollgate/agent` package into packages/agent/dist: the core
 * (dist/index.js: fetch and WebCrypto only, for every runtime), the offline
 * evaluator (dist/offline.js: the edge's own verifier, evaluator, builtins
 * and composition, bundled with what they need; dist/offline.browser.js the
 * same without the builtins that need node:crypto, which browsers lack), and
 * the type declarations (dist/types) from the sources with tsc.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build, type Plugin } from "esbuild";
import { ROOT } from "./toolchain.mjs";

export const AGENT_PACKAGE = join(ROOT, "packages", "agent");

/** For the browser build: the builtins modules that need node:crypto are replaced by one that has none of them. */
const withoutNodeCrypto: Plugin = {
  name: "without-node-crypto",
  setup(context) {
    context.onResolve({ filter: /\/(node-crypto|certificates)(\.ts)?$/ }, () => ({ path: join(ROOT, "src", "engine", "builtins", "without-node-crypto.ts") }));
  },
};

export async function buildAgentPackage(): Promise<void> {
  const dist = join(AGENT_PACKAGE, "dist");
  rmSync(dist, { recursive: true, force: true });
  const common = { bundle: true, format: "esm", target: "es2022", legalComments: "none", logLevel: "warning" } as const;
  await build({
    ...common,
    entryPoints: { index: join(AGENT_PACKAGE, "src", "index.ts") },
    outdir: dist,
    platform: "neutral",
    // The file spool imports node:fs only when it is used, by a name bundlers do not follow.
    external: ["node:*"],
  });
  await build({
    ...common,
    entryPoints: { offline: join(AGENT_PACKAGE, "src", "offline", "index.ts") },
    outdir: dist,
    // As the sandbox is built: ES module builds of the dependencies, node:crypto left to the runtime.
    platform: "neutral",
    mainFields: ["module", "main"],
    external: ["node:*"],
  });
  await build({
    ...common,
    entryPoints: { "offline.browser": join(AGENT_PACKAGE, "src", "offline", "index.ts") },
    outdir: dist,
    // Resolved as the build above (no `browser` fields, which may swap a dependency's code), so the
    // builtins a browser has are exactly the ones the edge runs.
    platform: "neutral",
    mainFields: ["module", "main"],
    plugins: [withoutNodeCrypto],
  });
  const browserBuild = readFileSync(join(dist, "offline.browser.js"), "utf8");
  const nodeImport = /\bfrom\s*["']node:[\w/]+["']|\bimport\(\s*["']node:/.exec(browserBuild);
  if (nodeImport) throw new Error(`@tollgate/agent's browser build still imports a Node module: ${nodeImport[0]}`);
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", AGENT_PACKAGE], { encoding: "utf8" });
  if (tsc.status !== 0) throw new Error(`@tollgate/agent declarations failed:\n${tsc.stdout}${tsc.stderr}`);
}

if (import.meta.main) {
  await buildAgentPackage();
  console.log(`@tollgate/agent: built ${join("packages", "agent", "dist")}`);
}

/**
 * The command-line runtimes the agent SDK promises besides the project's
 * own Node: Node 20 (the oldest it supports), Deno and Bun, pinned. Each is
 * its platform's package from the npm registry (a plain binary in a
 * tarball), installed once under .tools/runtimes as the project's other
 * tools are, never linked into node_modules/.bin where it would shadow the
 * project's Node.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../../scripts/toolchain.mjs";

export type RuntimeName = "node20" | "deno" | "bun";

const PINNED: Record<RuntimeName, string> = { node20: "20.20.2", deno: "2.9.6", bun: "1.4.5" };

/** The npm package holding the runtime's binary for this machine, and the binary's path in it. */
function platformPackage(name: RuntimeName): { pkg: string; binary: string } {
  const { platform, arch } = process;
  if (!["linux", "darwin"].includes(platform) || !["x64", "arm64"].includes(arch)) throw new Error(`no pinned ${name} for ${platform}-${arch}`);
  switch (name) {
    case "node20":
      return { pkg: `node-${platform}-${arch}`, binary: join("bin", "node") };
    case "deno":
      return { pkg: `@deno/${platform}-${arch}${platform === "linux" ? "-glibc" : ""}`, binary: "deno" };
    case "bun":
      // The baseline build runs on x64 CPUs without AVX2 too.
      return { pkg: `@oven/bun-${platform}-${arch === "x64" ? "x64-baseline" : "aarch64"}`, binary: join("bin", "bun") };
  }
}

/** The runtime's executable, installed first if it is not there yet. */
export function ensureRuntime(name: RuntimeName): string {
  const version = PINNED[name];
  const { pkg, binary } = platformPackage(name);
  const prefix = join(ROOT, ".tools", "runtimes", `${name}-${version}`);
  const executable = join(prefix, "node_modules", pkg, binary);
  if (existsSync(executable)) return executable;
  mkdirSync(prefix, { recursive: true });
  const npm = spawnSync("npm", ["install", "--prefix", prefix, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--ignore-scripts", `${pkg}@${version}`], { encoding: "utf8" });
  if (npm.status !== 0 || !existsSync(executable)) throw new Error(`installing ${pkg}@${version} failed:\n${npm.stdout}${npm.stderr}`);
  return executable;
}

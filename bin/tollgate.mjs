#!/usr/bin/env node
/**
 * The `tollgate` executable. The CLI is TypeScript run by Node's type
 * stripping (Node >= 22.18); on an older Node it re-runs itself with the
 * Node 22 that `npm install` placed in node_modules/.bin.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, "scripts", "cli.ts");
const [major, minor] = process.versions.node.split(".").map(Number);

if (major > 22 || (major === 22 && minor >= 18)) {
  const { main } = await import(pathToFileURL(cli).href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const node22 = join(root, "node_modules", ".bin", "node");
  if (!existsSync(node22)) {
    console.error("tollgate: needs Node >= 22.18; run `npm install` in the project first");
    process.exit(1);
  }
  const result = spawnSync(node22, [cli, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}

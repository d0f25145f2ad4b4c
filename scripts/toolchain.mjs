/**
 * @module toolchain
 * Finds or installs the pinned OPA CLI. A project-local copy lives in
 * `.tools/bin`; an `opa` on PATH is used only when it is the pinned version,
 * because decisions must match the compiler the edge's wasm came from.
 * Run directly (`node scripts/toolchain.mjs`) it installs what is missing.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const OPA_VERSION = "1.22.2";
export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
export const TOOLS_BIN = join(ROOT, ".tools", "bin");

function opaVersionOf(binary) {
  const result = spawnSync(binary, ["version"], { encoding: "utf8" });
  if (result.status !== 0) return null;
  const match = /^Version:\s*(\S+)/m.exec(result.stdout);
  return match ? match[1] : null;
}

/** The path of a pinned-version OPA binary, or null when none is installed. */
export function findOpa() {
  const local = join(TOOLS_BIN, "opa");
  if (existsSync(local) && opaVersionOf(local) === OPA_VERSION) return local;
  if (opaVersionOf("opa") === OPA_VERSION) return "opa";
  return null;
}

/** Returns a pinned OPA binary, building it with `go install` when missing. */
export function ensureOpa({ quiet = false } = {}) {
  const found = findOpa();
  if (found) return found;
  const go = spawnSync("go", ["version"], { encoding: "utf8" });
  if (go.status !== 0) {
    throw new Error(
      `OPA ${OPA_VERSION} is not installed and Go is not on PATH; install Go >= 1.24 ` +
        `or put opa ${OPA_VERSION} on PATH`,
    );
  }
  mkdirSync(TOOLS_BIN, { recursive: true });
  if (!quiet) console.error(`tollgate: installing opa v${OPA_VERSION} with go install (one time)…`);
  execFileSync("go", ["install", `github.com/open-policy-agent/opa@v${OPA_VERSION}`], {
    stdio: quiet ? "ignore" : "inherit",
    env: { ...process.env, GOBIN: TOOLS_BIN, CGO_ENABLED: "0" },
  });
  const installed = join(TOOLS_BIN, "opa");
  if (opaVersionOf(installed) !== OPA_VERSION) {
    throw new Error(`go install produced no working opa ${OPA_VERSION} in ${TOOLS_BIN}`);
  }
  return installed;
}

/** Fails early with a readable message when the running Node is too old. */
export function assertNode22() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 22) {
    throw new Error(
      `Node ${process.versions.node} is too old; run through npm scripts, which use the ` +
        `Node 22 that npm install placed in node_modules/.bin`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    console.log(`opa ${OPA_VERSION}: ${ensureOpa()}`);
  } catch (error) {
    console.error(`tollgate: ${error.message}`);
    process.exit(1);
  }
}

/**
 * @module opa
 * Thin wrappers around the pinned OPA CLI for the Node-side tools: check,
 * test, build to wasm and eval. Each failure carries OPA's own output so a
 * policy author sees the file and line, not a stack trace.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { t as listTar } from "tar";
import { readRegoValue } from "../../src/engine/rego-value.ts";
import { ensureOpa } from "../toolchain.mjs";
import { EDGE_CAPABILITIES_PATH, explainRefusals } from "./capabilities.ts";
import { rewriteOpaWasm } from "./opa-wasm-rewrite.ts";

export class OpaError extends Error {
  readonly step: "check" | "test" | "build" | "eval";
  readonly output: string;

  constructor(step: OpaError["step"], output: string) {
    super(`opa ${step} failed:\n${output.trim()}`);
    this.step = step;
    this.output = output;
  }
}

export interface CompiledPolicy {
  wasm: Uint8Array;
  data: unknown;
  /** The data.json text exactly as OPA wrote it into the bundle. */
  dataText: string;
  entrypoint: string;
}

function runOpa(step: OpaError["step"], args: string[], input?: string, cwd?: string): string {
  const result = spawnSync(ensureOpa({ quiet: true }), args, {
    encoding: "utf8",
    input,
    cwd,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  // A builtin the edge refuses reads "undefined function http.send" from OPA; say why it is refused.
  if (result.status !== 0) throw new OpaError(step, explainRefusals(`${result.stdout}\n${result.stderr}`));
  return result.stdout;
}

/** Policies are checked and compiled against what the edge can run (scripts/edge-capabilities.json). */
const EDGE_CAPABILITIES = ["--capabilities", EDGE_CAPABILITIES_PATH];

export function opaCheck(dir: string): void {
  runOpa("check", ["check", "--strict", ...EDGE_CAPABILITIES, dir]);
}

/** Runs `opa test` and returns the number of passing tests; failures carry OPA's report. */
export function opaTest(dir: string): number {
  const out = runOpa("test", ["test", dir]);
  const match = /PASS:\s*(\d+)\/(\d+)/.exec(out);
  return match ? Number(match[1]) : 0;
}

/**
 * Compiles a Rego directory to wasm for one entrypoint (e.g. `tollgate/decision`),
 * rewritten for the edge (opa-wasm-rewrite.ts).
 */
export async function opaBuildWasm(dir: string, entrypoint: string, options: { v0?: boolean } = {}): Promise<CompiledPolicy> {
  const work = mkdtempSync(join(tmpdir(), "tollgate-build-"));
  try {
    const bundlePath = join(work, "bundle.tar.gz");
    const v0 = options.v0 ? ["--v0-compatible"] : [];
    // Tests are for `opa test`, not for the edge: left out, they neither weigh on the wasm nor make two
    // layers built from the same rules with different data compile to different code.
    // Built from inside the directory, so the file names compiled into the wasm (for error locations)
    // are relative: the same sources give the same bytes wherever they were staged.
    runOpa("build", ["build", "-t", "wasm", "--wasm-include-print", "--ignore", "*_test.rego", ...v0, ...EDGE_CAPABILITIES, "-e", entrypoint, "-o", bundlePath, "."], undefined, dir);
    const files = await readBundle(bundlePath);
    const wasm = files.get("policy.wasm");
    const data = files.get("data.json");
    if (!wasm || !data) throw new OpaError("build", `bundle lacks policy.wasm or data.json (has ${[...files.keys()].join(", ")})`);
    const dataText = data.toString("utf8");
    return {
      wasm: rewriteOpaWasm(new Uint8Array(wasm)),
      data: JSON.parse(dataText),
      dataText,
      entrypoint,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One file of an OPA bundle on disk (e.g. "policy.wasm"). */
export async function opaBundleFile(bundlePath: string, name: string): Promise<Uint8Array> {
  const file = (await readBundle(bundlePath)).get(name);
  if (!file) throw new OpaError("build", `bundle lacks ${name}`);
  return new Uint8Array(file);
}

/** Reads every file of an OPA bundle into memory, keyed by its path without the leading slash. */
async function readBundle(bundlePath: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await listTar({
    file: bundlePath,
    onReadEntry: (entry) => {
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      entry.on("end", () => files.set(entry.path.replace(/^\/+/, ""), Buffer.concat(chunks)));
    },
  });
  return files;
}

/**
 * Evaluates `data.<path>` for many inputs in a single OPA process, so a test
 * suite with dozens of scenarios pays for one start-up, not dozens.
 */
export interface EvalOptions {
  /** Parse OPA's output exactly: numbers beyond 2^53 stay as written (raw numbers), as the edge keeps them. */
  exact?: boolean;
  /** The inputs as JSON texts (instead of `inputs`), so large integers reach OPA as written. */
  inputsJson?: string[];
  /** Rego v0 (for deprecated builtins). */
  v0?: boolean;
}

export function opaEvalMany(dir: string, entrypoint: string, inputs: unknown[], options: EvalOptions = {}): unknown[] {
  const work = mkdtempSync(join(tmpdir(), "tollgate-eval-"));
  try {
    const inputPath = join(work, "input.json");
    const count = options.inputsJson?.length ?? inputs.length;
    writeFileSync(inputPath, options.inputsJson ? `{"cases":[${options.inputsJson.join(",")}]}` : JSON.stringify({ cases: inputs }));
    const ref = `data.${entrypoint.split("/").join(".")}`;
    const query = `results := [r | c := input.cases[_]; r := ${ref} with input as c]`;
    const out = runOpa("eval", ["eval", "--format", "json", ...(options.v0 ? ["--v0-compatible"] : []), "-d", dir, "-i", inputPath, query]);
    // Exact: numbers beyond 2^53 stay as written (raw numbers), as the edge's evaluator keeps them.
    const parsed = (options.exact ? readRegoValue(out, { shape: "json" }) : JSON.parse(out)) as { result?: Array<{ bindings: { results: unknown[] } }> };
    const results = parsed.result?.[0]?.bindings.results;
    if (!results || results.length !== count) {
      throw new OpaError("eval", `expected ${count} results, got ${results?.length ?? 0}`);
    }
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

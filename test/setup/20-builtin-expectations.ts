/**
 * Global setup (Node): a differential check of every builtin the edge
 * implements. Each case (test/fixtures/builtins/cases.json, cases generated
 * here with fresh keys, and inputs drawn by fast-check) becomes one rule of a
 * generated Rego module. The real `opa eval` computes the expected results
 * (a case whose builtin errors is simply absent, as in OPA), and the same
 * module is compiled to wasm against the edge's capabilities so the test can
 * run it through the edge's sandbox and TypeScript builtins. Deprecated
 * builtins (cast_*) go in a Rego v0 module of their own, as only v0 allows
 * them. print() is compared with what `opa eval` writes to stderr.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { opaBuildWasm, opaEvalMany } from "../../scripts/lib/opa.ts";
import { ensureOpa } from "../../scripts/toolchain.mjs";
import { canonicalJson, writeRegoValue } from "../../src/engine/rego-value.ts";
import type { BuiltinCase, BuiltinCaseGroup } from "../provided.d.ts";
import { generatedCases, GENERATOR_SEED } from "./builtin-cases/generated.ts";
import { jwtCases, jwtSigningCases } from "./builtin-cases/jwt.ts";
import { castCases, metadataRules, printModule } from "./builtin-cases/special.ts";
import { x509Cases } from "./builtin-cases/x509.ts";

export const CLOCK_CASE = "clock: time.now_ns";

/** An argument is read from the input, or written into the module when it is a Rego literal (`{"$rego": "{1, 2}"}`: sets cannot travel in JSON). */
function argument(arg: unknown, caseIndex: number, argIndex: number): string {
  if (arg && typeof arg === "object" && "$rego" in arg) return (arg as { $rego: string }).$rego;
  return `input.cases[${caseIndex}][${argIndex}]`;
}

/** One rule per case, keyed by case name; a builtin error leaves its key undefined. */
function casesModule(pkg: string, cases: BuiltinCase[], v0: boolean, extra = ""): string {
  const rules = cases.map((c, i) => {
    const call = `${c.call}(${c.args.map((arg, j) => argument(arg, i, j)).join(", ")})`;
    // OPA lists schema errors in Go map order, which varies from run to run: compare them sorted.
    if (c.call === "json.match_schema") return `results[${JSON.stringify(c.name)}] := [r[0], sort(r[1])] if {\n  r := ${call}\n}`;
    return v0 ? `results[${JSON.stringify(c.name)}] = x { x := ${call} }` : `results[${JSON.stringify(c.name)}] := ${call}`;
  });
  return `package ${pkg}\n\n${rules.join("\n\n")}\n${extra}`;
}

async function group(label: string, pkg: string, cases: BuiltinCase[], options: { v0?: boolean; extra?: string } = {}): Promise<BuiltinCaseGroup> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-builtins-"));
  try {
    writeFileSync(join(dir, "cases.rego"), casesModule(pkg, cases, options.v0 ?? false, options.extra));
    // Large integers are written as digits, never through a double.
    const inputJson = writeRegoValue({
      big: 12345678901234567890n,
      cases: cases.map((c) => c.args.map((arg) => (arg && typeof arg === "object" && "$rego" in arg ? null : arg))),
    });
    const [expected] = opaEvalMany(dir, `${pkg}/results`, [], { exact: true, inputsJson: [inputJson], v0: options.v0 });
    const compiled = await opaBuildWasm(dir, `${pkg}/results`, { v0: options.v0 });
    return {
      label,
      // The test needs names and calls; arguments may hold bigints, which cannot be handed over.
      cases: cases.map(({ name, call }) => ({ name, call, args: [] })),
      inputJson,
      expected: Object.fromEntries(Object.entries(expected as Record<string, unknown>).map(([name, value]) => [name, canonicalJson(value)])),
      wasmBase64: Buffer.from(compiled.wasm).toString("base64"),
      entrypoint: compiled.entrypoint,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What `opa eval` prints for a module's print() calls, line by line. */
async function printExpectations(): Promise<{ lines: string[]; wasmBase64: string; entrypoint: string; inputJson: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-print-"));
  try {
    const { module, input } = printModule();
    writeFileSync(join(dir, "print.rego"), module);
    const inputJson = writeRegoValue(input);
    writeFileSync(join(dir, "input.json"), inputJson);
    const run = spawnSync(ensureOpa({ quiet: true }), ["eval", "-d", dir, "-i", join(dir, "input.json"), "--format", "json", "data.printing.result"], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`opa eval (print) failed: ${run.stdout}${run.stderr}`);
    const compiled = await opaBuildWasm(dir, "printing/result");
    return { lines: run.stderr.split("\n").filter((line) => line !== ""), wasmBase64: Buffer.from(compiled.wasm).toString("base64"), entrypoint: compiled.entrypoint, inputJson };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A policy answering opa.runtime(), to show what the edge tells a policy about itself. */
async function runtimeModule(): Promise<{ wasmBase64: string; entrypoint: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-runtime-"));
  try {
    writeFileSync(join(dir, "runtime.rego"), "package edge\n\nruntime := opa.runtime()\n");
    const compiled = await opaBuildWasm(dir, "edge/runtime");
    return { wasmBase64: Buffer.from(compiled.wasm).toString("base64"), entrypoint: compiled.entrypoint };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const fixed = JSON.parse(readFileSync("test/fixtures/builtins/cases.json", "utf8")) as { cases: BuiltinCase[] };
  const signing = jwtSigningCases();
  const all = [...fixed.cases, ...jwtCases(), ...signing.cases, ...x509Cases(), ...generatedCases(), ...castCases()];
  const deprecated = all.filter((c) => c.call.startsWith("cast_"));
  const current = all.filter((c) => !c.call.startsWith("cast_"));
  // The clock is compared with the edge's clock in the test, not with opa's.
  const clockRule = `\nresults[${JSON.stringify(CLOCK_CASE)}] := time.now_ns()\n`;
  project.provide("builtinCases", {
    seed: GENERATOR_SEED,
    groups: [
      await group("Rego v1", "builtin_cases", current, { extra: clockRule + metadataRules() + signing.rules }),
      await group("Rego v0 (deprecated builtins)", "builtin_cases_v0", deprecated, { v0: true }),
    ],
    print: await printExpectations(),
    runtime: await runtimeModule(),
  });
}

/**
 * @module capabilities
 * The edge's OPA capabilities: OPA's own capabilities for the pinned version,
 * cut down to exactly the builtins the edge can run, so that `opa build` and
 * `opa check` refuse a policy that calls anything else, at build time, naming
 * the builtin, the file and the line.
 *
 * Which builtins OPA's wasm runtime implements is asked of OPA itself: a probe
 * policy calls every builtin, is compiled to wasm, and the builtins the module
 * imports from its host are the ones the edge must implement (the rest are
 * compiled into the wasm, or folded away by the compiler, like print() and
 * rego.metadata.*). An imported builtin the edge's host does not implement is
 * left out of the capabilities, with the reason it is refused.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { ensureOpa, OPA_VERSION, ROOT } from "../toolchain.mjs";

/** The committed capabilities file every build and check of a Tollgate policy is compiled against. */
export const EDGE_CAPABILITIES_PATH = join(ROOT, "scripts", "edge-capabilities.json");
/** The committed table of every builtin OPA offers and who provides it at the edge (README's table is made from it). */
export const EDGE_BUILTINS_PATH = join(ROOT, "scripts", "edge-builtins.json");

/** Why the edge refuses a builtin OPA offers. A builtin not named here is refused as "not provided". */
export const REFUSAL_REASONS: Record<string, string> = {
  "http.send": "the edge sandbox has no network access by design",
  "net.lookup_ip_addr": "the edge sandbox has no network access (no DNS) by design",
  "internal.test_case": "only `opa test` runs test cases; a deployed policy cannot",
  "rego.parse_module": "the edge carries no Rego parser; parse modules at build time",
};

export const NOT_PROVIDED = "the edge does not provide this builtin";

export type Provider = "wasm" | "compiler" | "tollgate" | "refused";

export interface BuiltinEntry {
  name: string;
  provider: Provider;
  deprecated?: boolean;
  /** Why a refused builtin is refused. */
  reason?: string;
}

interface OpaBuiltin {
  name: string;
  infix?: string;
  relation?: boolean;
  deprecated?: boolean;
  decl: { args?: unknown[]; variadic?: unknown; result?: unknown };
}

export interface OpaCapabilities {
  builtins: OpaBuiltin[];
  [field: string]: unknown;
}

function opa(args: string[]): string {
  const result = spawnSync(ensureOpa({ quiet: true }), args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`opa ${args[0]} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

export function opaCapabilities(): OpaCapabilities {
  return JSON.parse(opa(["capabilities", "--version", `v${OPA_VERSION}`])) as OpaCapabilities;
}

/** A Rego v0 module calling every builtin once (v0, so deprecated builtins compile too). */
function probeModule(capabilities: OpaCapabilities): string {
  const lines = ["package probe", "import future.keywords.if", ""];
  capabilities.builtins.forEach((builtin, i) => {
    if (builtin.name === "eq" || builtin.name === "assign") return;
    const arity = builtin.decl.variadic !== undefined ? 1 : (builtin.decl.args?.length ?? 0);
    const args = Array.from({ length: arity }, (_, j) => `input.a${j}`);
    if (builtin.relation) lines.push(`r${i} if { ${builtin.name}(${[...args, "x"].join(", ")}) }`);
    else if (builtin.decl.result !== undefined) lines.push(`r${i} := ${builtin.name}(${args.join(", ")})`);
    else lines.push(`r${i} if { ${builtin.name}(${args.join(", ")}) }`);
  });
  return `${lines.join("\n")}\n`;
}

/** Names of the builtins an OPA-compiled wasm module imports from its host. */
export async function wasmImportedBuiltins(wasm: Uint8Array): Promise<string[]> {
  const memory = new WebAssembly.Memory({ initial: 8 });
  const stub = () => 0;
  const env = { memory, opa_abort: stub, opa_println: stub, opa_builtin0: stub, opa_builtin1: stub, opa_builtin2: stub, opa_builtin3: stub, opa_builtin4: stub };
  const { instance } = (await WebAssembly.instantiate(wasm as Uint8Array<ArrayBuffer>, { env })) as unknown as { instance: WebAssembly.Instance };
  const exports = instance.exports as { builtins(): number; opa_json_dump(addr: number): number };
  const addr = exports.opa_json_dump(exports.builtins());
  const bytes = new Uint8Array(memory.buffer);
  const text = new TextDecoder().decode(bytes.subarray(addr, bytes.indexOf(0, addr)));
  return Object.keys(JSON.parse(text) as Record<string, number>).sort();
}

/** Compiles the probe to wasm and lists what its host must provide. */
export async function probeHostBuiltins(capabilities: OpaCapabilities, capabilitiesPath?: string): Promise<string[]> {
  const work = mkdtempSync(join(tmpdir(), "tollgate-probe-"));
  try {
    const allowed = capabilitiesPath ? new Set((JSON.parse(readFileSync(capabilitiesPath, "utf8")) as OpaCapabilities).builtins.map((b) => b.name)) : undefined;
    const probe = { ...capabilities, builtins: capabilities.builtins.filter((b) => !allowed || allowed.has(b.name)) };
    writeFileSync(join(work, "probe.rego"), probeModule(probe));
    const out = join(work, "probe.tar.gz");
    const extra = capabilitiesPath ? ["--capabilities", capabilitiesPath] : [];
    opa(["build", "-t", "wasm", "--v0-compatible", "--wasm-include-print", ...extra, "-e", "probe", "-o", out, join(work, "probe.rego")]);
    const { opaBundleFile } = await import("./opa.ts");
    return wasmImportedBuiltins(await opaBundleFile(out, "policy.wasm"));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Every builtin OPA offers, with who provides it at the edge: OPA's wasm
 * runtime, the compiler (rewritten or folded before run time), Tollgate's
 * host builtins, or no one (refused, with why).
 */
export async function classifyBuiltins(capabilities: OpaCapabilities, hostBuiltins: readonly string[]): Promise<BuiltinEntry[]> {
  const imported = new Set(await probeHostBuiltins(capabilities));
  const host = new Set(hostBuiltins);
  return capabilities.builtins
    .map((builtin): BuiltinEntry => {
      const entry = (provider: Provider, reason?: string): BuiltinEntry => ({
        name: builtin.name,
        provider,
        ...(builtin.deprecated ? { deprecated: true } : {}),
        ...(reason ? { reason } : {}),
      });
      // print() becomes internal.print; rego.metadata.* calls are replaced by the annotations they read.
      if (builtin.name === "print") return entry(host.has("internal.print") ? "compiler" : "refused", host.has("internal.print") ? undefined : NOT_PROVIDED);
      if (!imported.has(builtin.name)) return entry(["eq", "assign", "rego.metadata.chain", "rego.metadata.rule"].includes(builtin.name) ? "compiler" : "wasm");
      if (host.has(builtin.name)) return entry("tollgate");
      return entry("refused", REFUSAL_REASONS[builtin.name] ?? NOT_PROVIDED);
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The host builtins' names, from the same module the sandbox bundles (bundled for Node, as src/ is written for workerd). */
export async function hostBuiltinNames(): Promise<string[]> {
  const out = join(ROOT, "build", "host-builtins.mjs");
  await build({
    entryPoints: [join(ROOT, "src", "engine", "builtins", "index.ts")],
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: out,
    logLevel: "error",
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  return ((await import(`${pathToFileURL(out).href}?t=${Date.now()}`)) as { hostBuiltinNames(): Promise<string[]> }).hostBuiltinNames();
}

/** OPA's capabilities with only the builtins the edge runs. */
export function edgeCapabilities(capabilities: OpaCapabilities, table: BuiltinEntry[]): OpaCapabilities {
  const allowed = new Set(table.filter((entry) => entry.provider !== "refused").map((entry) => entry.name));
  return { ...capabilities, builtins: capabilities.builtins.filter((builtin) => allowed.has(builtin.name)) };
}

/**
 * OPA's "undefined function X" for a refused builtin, with the reason added:
 * `p.rego:4: rego_type_error: undefined function http.send: the edge sandbox has no network access by design`.
 */
export function explainRefusals(output: string, table: BuiltinEntry[] = readBuiltinTable()): string {
  const refused = new Map(table.filter((entry) => entry.provider === "refused").map((entry) => [entry.name, entry.reason ?? NOT_PROVIDED]));
  return output.replace(/undefined function ([\w.]+)/g, (message, name: string) => (refused.has(name) ? `${message}: ${refused.get(name)}` : message));
}

export function readBuiltinTable(): BuiltinEntry[] {
  return (JSON.parse(readFileSync(EDGE_BUILTINS_PATH, "utf8")) as { builtins: BuiltinEntry[] }).builtins;
}

/**
 * @module sandbox-modules
 * Turns policy layers into the module map a Worker Loader sandbox is created
 * from: our sandbox program (its core, and the builtin families the layers
 * call), one JSON module per layer, one wasm module per
 * distinct compiled policy, and a small generated `layers.js` that ties them
 * together in layer order. Region and tenant layers built from the global
 * rules with data of their own carry the very same wasm (the store holds
 * one copy of it): they share one module, so the sandbox compiles it once
 * and only instantiates it per layer.
 */
import sandboxProgram from "../../build/sandbox-source.js";
import { stringConstants } from "../bundles/wasm-strings";
import { LAZY_BUILTIN_FAMILIES, type BuiltinFamily } from "./builtins/families";
import { SANDBOX_LAYERS_MODULE } from "./sandbox-protocol";

export interface LayerCode {
  scope: string;
  entrypoint: string;
  /** A compiled module (the deploy-time baseline) or raw bytes (from the bundle store). */
  wasm: WebAssembly.Module | Uint8Array;
  /** The data document: its JSON text (numbers stay exact) or an already parsed value. */
  data: unknown;
}

export function sandboxModules(layers: LayerCode[]): Record<string, WorkerLoaderModule | string | WebAssembly.Module> {
  const modules: Record<string, WorkerLoaderModule | string | WebAssembly.Module> = {};
  for (const name of programModules(layers)) modules[name] = sandboxProgram.modules[name];
  const imports: string[] = [];
  const entries: string[] = [];
  const wasmNames = new Map<WebAssembly.Module | Uint8Array, string>();
  layers.forEach((layer, index) => {
    let wasmName = wasmNames.get(layer.wasm);
    if (wasmName === undefined) {
      wasmName = `wasm${wasmNames.size}`;
      wasmNames.set(layer.wasm, wasmName);
      modules[`${wasmName}.wasm`] = layer.wasm instanceof WebAssembly.Module ? layer.wasm : { wasm: layer.wasm };
      imports.push(`import ${wasmName} from "./${wasmName}.wasm";`);
    }
    const dataName = `layer-${index}.json`;
    modules[dataName] = typeof layer.data === "string" ? { text: layer.data } : { json: layer.data };
    imports.push(`import data${index} from "./${dataName}";`);
    entries.push(`{ scope: ${JSON.stringify(layer.scope)}, entrypoint: ${JSON.stringify(layer.entrypoint)}, wasm: ${wasmName}, data: data${index} }`);
  });
  modules[SANDBOX_LAYERS_MODULE] = `${imports.join("\n")}\nexport default [${entries.join(", ")}];\n`;
  return modules;
}

/**
 * The sandbox program's modules these layers need: its core, and each
 * builtin family one of the layers names. A module compiled into the deploy
 * (whose bytes are not at hand) or bytes that cannot be read get every
 * family. A family left out only makes a policy that calls it fail to load,
 * which the edge answers as for any policy that cannot run: never looser.
 */
function programModules(layers: LayerCode[]): string[] {
  const names = new Set(sandboxProgram.core);
  const needs = (family: BuiltinFamily) => layers.some((layer) => mayCall(layer.wasm, family));
  for (const family of LAZY_BUILTIN_FAMILIES) {
    if (needs(family)) for (const name of sandboxProgram.onDemand[family.source] ?? []) names.add(name);
  }
  return [...names];
}

function mayCall(wasm: WebAssembly.Module | Uint8Array, family: BuiltinFamily): boolean {
  if (wasm instanceof WebAssembly.Module) return true;
  try {
    for (const constant of stringConstants(wasm)) if (family.covers(constant)) return true;
    return false;
  } catch {
    return true;
  }
}

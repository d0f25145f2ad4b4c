/**
 * @module sandbox-modules
 * Turns policy layers into the module map a Worker Loader sandbox is created
 * from: our sandbox program, one JSON module per layer, one wasm module per
 * distinct compiled policy, and a small generated `layers.js` that ties them
 * together in layer order. Region and tenant layers built from the global
 * rules with data of their own carry the very same wasm (the store holds
 * one copy of it): they share one module, so the sandbox compiles it once
 * and only instantiates it per layer.
 */
import sandboxSource from "../../build/sandbox-source.js";
import { SANDBOX_LAYERS_MODULE, SANDBOX_MAIN_MODULE } from "./sandbox-protocol";

export interface LayerCode {
  scope: string;
  entrypoint: string;
  /** A compiled module (the deploy-time baseline) or raw bytes (from the bundle store). */
  wasm: WebAssembly.Module | Uint8Array;
  /** The data document: its JSON text (numbers stay exact) or an already parsed value. */
  data: unknown;
}

export function sandboxModules(layers: LayerCode[]): Record<string, WorkerLoaderModule | string | WebAssembly.Module> {
  const modules: Record<string, WorkerLoaderModule | string | WebAssembly.Module> = {
    [SANDBOX_MAIN_MODULE]: sandboxSource,
  };
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

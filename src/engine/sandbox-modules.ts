/**
 * @module sandbox-modules
 * Turns policy layers into the module map a Worker Loader sandbox is created
 * from: our sandbox program, one wasm and one JSON module per layer, and a
 * small generated `layers.js` that ties them together in layer order.
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
  layers.forEach((layer, index) => {
    const wasmName = `layer-${index}.wasm`;
    const dataName = `layer-${index}.json`;
    modules[wasmName] = layer.wasm instanceof WebAssembly.Module ? layer.wasm : { wasm: layer.wasm };
    modules[dataName] = typeof layer.data === "string" ? { text: layer.data } : { json: layer.data };
    imports.push(`import wasm${index} from "./${wasmName}";`, `import data${index} from "./${dataName}";`);
    entries.push(
      `{ scope: ${JSON.stringify(layer.scope)}, entrypoint: ${JSON.stringify(layer.entrypoint)}, wasm: wasm${index}, data: data${index} }`,
    );
  });
  modules[SANDBOX_LAYERS_MODULE] = `${imports.join("\n")}\nexport default [${entries.join(", ")}];\n`;
  return modules;
}

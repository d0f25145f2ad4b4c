/**
 * @module sandbox-protocol
 * The RPC contract between the edge Worker and the policy sandbox, and the
 * module names the edge uses when it hands a policy to the Worker Loader.
 */

/** One policy layer as the sandbox receives it (see sandbox-modules.ts). */
export interface SandboxLayer {
  scope: string;
  entrypoint: string;
  wasm: WebAssembly.Module;
  data: unknown;
}

export interface LayerOutcome {
  scope: string;
  /** The entrypoint's value, when evaluation succeeded. */
  result?: unknown;
  error?: { code: string; message: string };
}

export interface SandboxDecision {
  layers: LayerOutcome[];
  /** Wall time of the evaluation inside the sandbox, at the platform's timer resolution. */
  eval_us: number;
  /** Random per sandbox isolate: equal ids mean the sandbox was reused, not rebuilt. */
  instance: string;
}

export interface SandboxMeasurement {
  iterations: number;
  elapsed_ms: number;
  memory_bytes_before: number;
  memory_bytes_after: number;
}

/** What the sandbox isolate exposes over RPC. */
export interface PolicySandboxRpc {
  decide(inputJson: string, nowMs: number): Promise<SandboxDecision>;
  measure(inputJson: string, nowMs: number, iterations: number): Promise<SandboxMeasurement>;
}

export const SANDBOX_ENTRYPOINT = "PolicySandbox";
export const SANDBOX_MAIN_MODULE = "sandbox.js";
export const SANDBOX_LAYERS_MODULE = "layers.js";

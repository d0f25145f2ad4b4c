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
  /** The layer's data document: its JSON text (numbers exact) or the parsed value. */
  data: unknown;
}

/**
 * What a policy may know of the edge through opa.runtime(): never
 * environment variables or configuration secrets. Every field is optional so
 * the caller fills in what it knows (the decision engine adds the layers'
 * digests; the request pipeline may add location and region).
 */
export interface EdgeRuntimeInfo {
  location?: string;
  region?: string;
  /** Per layer scope, the digest (and version) of the bundle deciding. */
  bundles?: Record<string, { digest: string; version?: number }>;
}

export interface LayerOutcome {
  scope: string;
  /** The entrypoint's value, when evaluation succeeded; integers beyond 2^53 are exact (JSON.rawJSON). */
  result?: unknown;
  error?: { code: string; message: string };
  /**
   * Lines the policy printed while deciding (print()), at most 64 lines of
   * 1 KiB; a last line marked "…[print output truncated]" says how many were
   * dropped. Absent when the policy printed nothing.
   */
  print?: string[];
}

/** A layer outcome as it crosses the RPC boundary: the result as text, exact. */
export interface SandboxLayerOutcome extends Omit<LayerOutcome, "result"> {
  /** The entrypoint's value in OPA's value syntax: JSON, unless it holds a set or a key that is not a string. */
  result_text?: string;
}

export interface SandboxDecision {
  layers: SandboxLayerOutcome[];
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
  /** `budgetMs`: how long one layer's evaluation may run before it is stopped (the evaluator's default when absent). */
  decide(inputJson: string, nowMs: number, runtime?: EdgeRuntimeInfo, budgetMs?: number): Promise<SandboxDecision>;
  measure(inputJson: string, nowMs: number, iterations: number): Promise<SandboxMeasurement>;
}

export const SANDBOX_ENTRYPOINT = "PolicySandbox";
export const SANDBOX_MAIN_MODULE = "sandbox.js";
export const SANDBOX_LAYERS_MODULE = "layers.js";

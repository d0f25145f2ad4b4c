/**
 * @module sandbox-entry
 * The program that runs inside the Worker Loader sandbox: no network, no
 * bindings, only the policy layers the edge passed in as modules. It is
 * bundled on its own (scripts/build-sandbox.ts) and loaded once per policy
 * digest; the evaluators are created on first use and reused after that.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
// Generated per policy by the edge (sandbox-modules.ts); names its wasm and data modules.
import layers from "./layers.js";
import { PolicyEvaluationError, PolicyEvaluator } from "./evaluator";
import type { EdgeRuntimeInfo, SandboxDecision, SandboxLayer, SandboxLayerOutcome, SandboxMeasurement } from "./sandbox-protocol";

interface LoadedLayer {
  scope: string;
  evaluator?: PolicyEvaluator;
  loadError?: { code: string; message: string };
}

let loaded: Promise<LoadedLayer[]> | undefined;
// Random values are not available at module scope in Workers, so this is set on first use.
let instance: string | undefined;

function loadLayers(): Promise<LoadedLayer[]> {
  loaded ??= Promise.all(
    (layers as SandboxLayer[]).map(async (layer) => {
      try {
        return { scope: layer.scope, evaluator: await PolicyEvaluator.load(layer.wasm, layer.data, layer.entrypoint) };
      } catch (error) {
        return { scope: layer.scope, loadError: { code: "policy_load_failed", message: String((error as Error).message ?? error) } };
      }
    }),
  );
  return loaded;
}

function evaluateLayer(layer: LoadedLayer, inputJson: string, nowMs: number, runtime?: EdgeRuntimeInfo, budgetMs?: number): SandboxLayerOutcome {
  if (!layer.evaluator) return { scope: layer.scope, error: layer.loadError };
  try {
    // Text, not a structured clone: raw numbers (exact large integers) would not survive the clone.
    const { text, print } = layer.evaluator.evaluateToText(inputJson, nowMs, runtime, budgetMs);
    const outcome: SandboxLayerOutcome = { scope: layer.scope, result_text: text };
    if (print) outcome.print = print;
    return outcome;
  } catch (error) {
    const code = error instanceof PolicyEvaluationError ? error.code : "policy_aborted";
    const outcome: SandboxLayerOutcome = { scope: layer.scope, error: { code, message: (error as Error).message } };
    if (error instanceof PolicyEvaluationError && error.print) outcome.print = error.print;
    return outcome;
  }
}

export class PolicySandbox extends WorkerEntrypoint {
  async decide(inputJson: string, nowMs: number, runtime?: EdgeRuntimeInfo, budgetMs?: number): Promise<SandboxDecision> {
    const evaluators = await loadLayers();
    instance ??= crypto.randomUUID();
    const started = performance.now();
    const outcomes = evaluators.map((layer) => evaluateLayer(layer, inputJson, nowMs, runtime, budgetMs));
    return { layers: outcomes, eval_us: Math.round((performance.now() - started) * 1000), instance };
  }

  /** Evaluates one input many times in a row: the benchmark's in-sandbox number and the memory-bound test. */
  async measure(inputJson: string, nowMs: number, iterations: number): Promise<SandboxMeasurement> {
    const evaluators = await loadLayers();
    const memory = () => evaluators.reduce((sum, layer) => sum + (layer.evaluator?.memoryBytes() ?? 0), 0);
    evaluators.forEach((layer) => evaluateLayer(layer, inputJson, nowMs));
    const before = memory();
    const started = performance.now();
    for (let i = 0; i < iterations; i++) {
      for (const layer of evaluators) evaluateLayer(layer, inputJson, nowMs);
    }
    return {
      iterations,
      elapsed_ms: performance.now() - started,
      memory_bytes_before: before,
      memory_bytes_after: memory(),
    };
  }
}

export default {
  fetch(): Response {
    return new Response("policy sandbox: RPC only", { status: 404 });
  },
};

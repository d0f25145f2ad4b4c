/**
 * @module sandbox-client
 * The edge's side of the policy sandbox. A sandbox is created by the Worker
 * Loader once per policy key (the digest of the layers it holds) and reused
 * while it stays warm, so the wasm is compiled once, not per request. It has
 * no network (`globalOutbound: null`), no bindings and a CPU limit, so a
 * policy can neither reach out nor spin forever.
 */
import { readRegoValue } from "./rego-value";
import { sandboxModules, type LayerCode } from "./sandbox-modules";
import {
  SANDBOX_ENTRYPOINT,
  SANDBOX_MAIN_MODULE,
  type EdgeRuntimeInfo,
  type LayerOutcome,
  type PolicySandboxRpc,
  type SandboxLayerOutcome,
  type SandboxMeasurement,
} from "./sandbox-protocol";

/** Matches wrangler.toml; the sandbox needs nodejs_compat for node:crypto in builtins. */
const SANDBOX_COMPATIBILITY_DATE = "2026-11-01";
/** Decisions take microseconds; 50 ms of CPU means a runaway policy, not a slow one. */
const SANDBOX_CPU_LIMIT_MS = 50;

export interface SandboxAnswer {
  layers: LayerOutcome[];
  eval_us: number;
  instance: string;
}

/** Reads a layer's result text exactly (large integers as raw numbers, which JSON.stringify writes unchanged). */
function fromWire({ result_json, ...rest }: SandboxLayerOutcome): LayerOutcome {
  return result_json === undefined ? rest : { ...rest, result: readRegoValue(result_json, { shape: "json" }) };
}

export class SandboxClient {
  constructor(private readonly loader: WorkerLoader) {}

  private sandbox(policyKey: string, layers: () => LayerCode[]): PolicySandboxRpc {
    const worker = this.loader.get(`policy:${policyKey}`, () => ({
      compatibilityDate: SANDBOX_COMPATIBILITY_DATE,
      compatibilityFlags: ["nodejs_compat"],
      mainModule: SANDBOX_MAIN_MODULE,
      modules: sandboxModules(layers()),
      globalOutbound: null,
      env: {},
      limits: { cpuMs: SANDBOX_CPU_LIMIT_MS },
    }));
    return worker.getEntrypoint(SANDBOX_ENTRYPOINT) as unknown as PolicySandboxRpc;
  }

  async decide(policyKey: string, layers: () => LayerCode[], inputJson: string, nowMs: number, runtime?: EdgeRuntimeInfo): Promise<SandboxAnswer> {
    const answer = await this.sandbox(policyKey, layers).decide(inputJson, nowMs, runtime);
    return { ...answer, layers: answer.layers.map(fromWire) };
  }

  measure(
    policyKey: string,
    layers: () => LayerCode[],
    inputJson: string,
    nowMs: number,
    iterations: number,
  ): Promise<SandboxMeasurement> {
    return this.sandbox(policyKey, layers).measure(inputJson, nowMs, iterations);
  }
}

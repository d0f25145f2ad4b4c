/**
 * @module sandbox-client
 * The edge's side of the policy sandbox. A sandbox is created by the Worker
 * Loader once per policy key (the digest of the layers it holds) and reused
 * while it stays warm, so the wasm is compiled once, not per request. It has
 * no network (`globalOutbound: null`), no bindings and a CPU limit, so a
 * policy can neither reach out nor spin forever. The edge also gives each
 * decision a deadline of its own: a sandbox that misses it is abandoned
 * (the next decision of that policy gets a fresh one), so a policy that
 * runs away costs the request that met it, not every request after it.
 */
import { released } from "../rpc-result";
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

export class SandboxTimeout extends Error {}

/** Policies whose sandbox was given up on, remembered per isolate (a forgotten one starts again at generation 0). */
const MAX_REMEMBERED_POLICIES = 1_000;

export interface SandboxAnswer {
  layers: LayerOutcome[];
  eval_us: number;
  instance: string;
}

/**
 * Reads a layer's result text exactly (sets as arrays, large integers as raw
 * numbers, which JSON.stringify writes unchanged). Text that is not one value
 * (the sandbox passes it on unread) is that layer's failure, not the edge's.
 */
function fromWire({ result_text, ...rest }: SandboxLayerOutcome): LayerOutcome {
  if (result_text === undefined) return rest;
  try {
    return { ...rest, result: readRegoValue(result_text, { shape: "json" }) };
  } catch (error) {
    return { ...rest, error: { code: "policy_aborted", message: `the policy's result could not be read: ${(error as Error).message}` } };
  }
}

export class SandboxClient {
  /** Sandboxes given up on, by policy key: a new generation is a new isolate. */
  private readonly generations = new Map<string, number>();

  constructor(private readonly loader: WorkerLoader) {}

  private sandbox(policyKey: string, layers: () => LayerCode[]): PolicySandboxRpc {
    const generation = this.generations.get(policyKey) ?? 0;
    const worker = this.loader.get(`policy:${policyKey}:${generation}`, () => ({
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

  /** One decision within `deadlineMs`; past it, SandboxTimeout, and this policy's sandbox is abandoned. */
  async decide(
    policyKey: string,
    layers: () => LayerCode[],
    inputJson: string,
    nowMs: number,
    runtime?: EdgeRuntimeInfo,
    deadlineMs = Number.POSITIVE_INFINITY,
    budgetMs?: number,
  ): Promise<SandboxAnswer> {
    const call = this.sandbox(policyKey, layers).decide(inputJson, nowMs, runtime, budgetMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (Number.isFinite(deadlineMs)) timer = setTimeout(() => reject(new SandboxTimeout(`the policy did not answer within ${deadlineMs} ms`)), deadlineMs);
    });
    try {
      const answer = released(await Promise.race([call, timeout]));
      return { ...answer, layers: answer.layers.map(fromWire) };
    } catch (error) {
      if (error instanceof SandboxTimeout) {
        this.abandon(policyKey);
        // An answer that comes after all is let go of as well.
        call.then(released, () => undefined);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Gives up on a policy's sandbox: its next decision gets a new isolate. */
  abandon(policyKey: string): void {
    this.generations.set(policyKey, (this.generations.get(policyKey) ?? 0) + 1);
    if (this.generations.size > MAX_REMEMBERED_POLICIES) this.generations.delete(this.generations.keys().next().value!);
  }

  measure(
    policyKey: string,
    layers: () => LayerCode[],
    inputJson: string,
    nowMs: number,
    iterations: number,
  ): Promise<SandboxMeasurement> {
    return this.sandbox(policyKey, layers).measure(inputJson, nowMs, iterations).then(released);
  }
}

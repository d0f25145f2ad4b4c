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
 * Decisions that need one sandbox at the same time share its calls
 * (sandbox-lane.ts); one that was in a call lost as a whole is asked again
 * on its own, so no input costs another decision its answer.
 */
import { released } from "../rpc-result";
import { readRegoValue } from "./rego-value";
import { BatchLost, CallLane, LaneClosed } from "./sandbox-lane";
import { sandboxModules, type LayerCode } from "./sandbox-modules";
import {
  SANDBOX_ENTRYPOINT,
  SANDBOX_MAIN_MODULE,
  type EdgeRuntimeInfo,
  type LayerOutcome,
  type PolicySandboxRpc,
  type SandboxLayerOutcome,
  type SandboxDecision,
  type SandboxMeasurement,
  type SandboxRequest,
} from "./sandbox-protocol";

/** Matches wrangler.toml; the sandbox needs nodejs_compat for node:crypto in builtins. */
const SANDBOX_COMPATIBILITY_DATE = "2026-11-01";
/** Decisions take microseconds; 50 ms of CPU means a runaway policy, not a slow one. */
const SANDBOX_CPU_LIMIT_MS = 50;

export class SandboxTimeout extends Error {}

/** Policies whose sandbox was given up on, remembered per isolate (a forgotten one starts again at generation 0). */
const MAX_REMEMBERED_POLICIES = 1_000;
/**
 * At most this many decisions share one call. Each still has its own
 * evaluation budget; a call that meets the sandbox's CPU limit is lost as a
 * whole, and its decisions are asked again one by one.
 */
const MAX_BATCH = 64;
/** At most this many calls in flight per sandbox: under a burst, more of them are on their way at once. */
const MAX_IN_FLIGHT = 2;

/** What the edge keeps alive past its response (the request's waitUntil). */
export type KeepAlive = (work: Promise<unknown>) => void;

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
  /** The calls of each sandbox in use, by its name; one with nothing to do is forgotten. */
  private readonly lanes = new Map<string, CallLane<SandboxRequest, SandboxDecision>>();

  /** `shareCalls`: decisions that need a sandbox at the same time share its calls; otherwise each makes its own. */
  constructor(
    private readonly loader: WorkerLoader,
    private readonly shareCalls = true,
  ) {}

  private sandboxName(policyKey: string): string {
    return `policy:${policyKey}:${this.generations.get(policyKey) ?? 0}`;
  }

  private sandbox(name: string, layers: () => LayerCode[]): PolicySandboxRpc {
    const worker = this.loader.get(name, () => ({
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

  /**
   * One decision within `deadlineMs`; past it, SandboxTimeout, and this
   * policy's sandbox is abandoned. `keepAlive` lets a call this decision
   * sends for others outlive its own response.
   */
  async decide(
    policyKey: string,
    layers: () => LayerCode[],
    inputJson: string,
    nowMs: number,
    runtime?: EdgeRuntimeInfo,
    deadlineMs = Number.POSITIVE_INFINITY,
    budgetMs?: number,
    keepAlive?: KeepAlive,
  ): Promise<SandboxAnswer> {
    const call = this.answer(policyKey, layers, { inputJson, nowMs, runtime, budgetMs }, keepAlive);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (Number.isFinite(deadlineMs)) timer = setTimeout(() => reject(new SandboxTimeout(`the policy did not answer within ${deadlineMs} ms`)), deadlineMs);
    });
    try {
      const answer = await Promise.race([call, timeout]);
      return { ...answer, layers: answer.layers.map(fromWire) };
    } catch (error) {
      if (error instanceof SandboxTimeout) {
        this.abandon(policyKey);
        call.catch(() => undefined);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The sandbox's answer through its lane; a decision whose call was lost with others is asked again alone. */
  private async answer(policyKey: string, layers: () => LayerCode[], request: SandboxRequest, keepAlive?: KeepAlive): Promise<SandboxDecision> {
    if (!this.shareCalls) return (await this.send(this.sandboxName(policyKey), layers, [request]))[0]!;
    for (;;) {
      const name = this.sandboxName(policyKey);
      try {
        return await this.laneOf(name).submit(request, (batch) => this.send(name, layers, batch), keepAlive);
      } catch (error) {
        // The sandbox was abandoned while this one waited: to the new one.
        if (error instanceof LaneClosed) continue;
        if (!(error instanceof BatchLost)) throw error;
        const alone = this.sandbox(name, layers).decide(request.inputJson, request.nowMs, request.runtime, request.budgetMs);
        return released(await alone);
      }
    }
  }

  private laneOf(name: string): CallLane<SandboxRequest, SandboxDecision> {
    let lane = this.lanes.get(name);
    if (!lane) {
      const created = new CallLane<SandboxRequest, SandboxDecision>(MAX_BATCH, MAX_IN_FLIGHT, () => {
        if (this.lanes.get(name) === created) this.lanes.delete(name);
      });
      this.lanes.set(name, (lane = created));
    }
    return lane;
  }

  /** One call: a lone decision as it is, several in one `decideMany`; the results let go of once read. */
  private async send(name: string, layers: () => LayerCode[], batch: SandboxRequest[]): Promise<SandboxDecision[]> {
    const sandbox = this.sandbox(name, layers);
    if (batch.length === 1) {
      const { inputJson, nowMs, runtime, budgetMs } = batch[0]!;
      return [released(await sandbox.decide(inputJson, nowMs, runtime, budgetMs))];
    }
    return released(await sandbox.decideMany(batch));
  }

  /** Gives up on a policy's sandbox: its next decision gets a new isolate. */
  abandon(policyKey: string): void {
    const name = this.sandboxName(policyKey);
    this.lanes.get(name)?.close();
    this.lanes.delete(name);
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
    return this.sandbox(this.sandboxName(policyKey), layers).measure(inputJson, nowMs, iterations);
  }
}

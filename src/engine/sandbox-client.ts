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
 * Decisions of one policy that arrive while a call is in flight go together
 * in the next call (see decide), since the call costs more than they do.
 */
import { readRegoValue } from "./rego-value";
import { sandboxModules, type LayerCode } from "./sandbox-modules";
import {
  SANDBOX_ENTRYPOINT,
  SANDBOX_MAIN_MODULE,
  type EdgeRuntimeInfo,
  type LayerOutcome,
  type PolicySandboxRpc,
  type SandboxDecision,
  type SandboxLayerOutcome,
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

/**
 * The most decisions sent in one call. A call shares one CPU limit (50 ms)
 * among its decisions; sixteen of the slowest input take about 1 ms.
 */
const MAX_BATCH = 16;

/** Decisions waiting for the call in flight to return, to be sent together in the next one. */
interface Batch {
  requests: SandboxRequest[];
  /** Resolved when the call in flight has returned: the batch's first decision sends it then. */
  turn: Promise<void>;
  open(): void;
  /** Each request's answer, in order; undefined when the call failed and each is to be sent on its own. */
  answers: Promise<SandboxDecision[] | undefined>;
  settle(answers: SandboxDecision[] | undefined): void;
}

/** A policy's calls into its sandbox: whether one is in flight, and the batch gathering behind it. */
interface Lane {
  flying: boolean;
  gathering?: Batch;
}

function newBatch(first: SandboxRequest): Batch {
  let open!: () => void;
  let settle!: (answers: SandboxDecision[] | undefined) => void;
  const turn = new Promise<void>((resolve) => (open = resolve));
  const answers = new Promise<SandboxDecision[] | undefined>((resolve) => (settle = resolve));
  return { requests: [first], turn, open: () => open(), answers, settle: (value) => settle(value) };
}

/** What `promise` gives, or undefined once `ms` have passed first (never, when `ms` is not finite). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (!Number.isFinite(ms)) return promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    })]);
  } finally {
    clearTimeout(timer);
  }
}

function fromWireDecision(answer: SandboxDecision): SandboxAnswer {
  return { ...answer, layers: answer.layers.map(fromWire) };
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

  /** By policy key, while a call into its sandbox is in flight. */
  private readonly lanes = new Map<string, Lane>();

  /**
   * One decision within `deadlineMs`; past it, SandboxTimeout, and this
   * policy's sandbox is abandoned.
   *
   * A call into the sandbox costs far more than the evaluation it carries
   * (an RPC is some 160 µs; a decision some 30 µs). So while one call of a
   * policy is in flight, the decisions that arrive for that policy gather,
   * and go together in the next call, one evaluation each, the moment it
   * returns. A decision that finds nothing in flight is sent at once: a
   * lone decision waits for nothing.
   *
   * Each decision is judged on its own in the sandbox, with its own budget.
   * Should a call of several fail (a deadline missed, the CPU limit, the
   * isolate lost), each of its decisions is sent again on its own, so one
   * decision's input never costs another its answer, only time.
   */
  async decide(
    policyKey: string,
    layers: () => LayerCode[],
    inputJson: string,
    nowMs: number,
    runtime?: EdgeRuntimeInfo,
    deadlineMs = Number.POSITIVE_INFINITY,
    budgetMs?: number,
  ): Promise<SandboxAnswer> {
    const request: SandboxRequest = { inputJson, nowMs, runtime, budgetMs };
    let lane = this.lanes.get(policyKey);
    if (!lane) this.lanes.set(policyKey, (lane = { flying: false }));
    if (!lane.flying) {
      lane.flying = true;
      return this.send(policyKey, layers, lane, [request], undefined, deadlineMs);
    }
    const gathering = lane.gathering;
    if (gathering && gathering.requests.length < MAX_BATCH) {
      const index = gathering.requests.push(request) - 1;
      // The batch is sent within one deadline of now and answered within the next; should its sender
      // be gone (its request cancelled), this decision goes on its own after both.
      const answers = await within(gathering.answers, 2 * deadlineMs);
      return answers ? fromWireDecision(answers[index]) : this.alone(policyKey, layers, request, deadlineMs);
    }
    // A full batch is already gathering: this decision does not wait for a third call.
    if (gathering) return this.alone(policyKey, layers, request, deadlineMs);
    const batch = newBatch(request);
    lane.gathering = batch;
    // The call in flight returns (or fails) within its deadline; should its sender be gone, this one
    // sends after a deadline all the same, so a lane never stalls.
    await within(batch.turn, deadlineMs);
    if (lane.gathering === batch) lane.gathering = undefined;
    return this.send(policyKey, layers, lane, batch.requests, batch, deadlineMs);
  }

  /** Sends the lane's next call: `requests`, the first of which is the caller's own. */
  private async send(
    policyKey: string,
    layers: () => LayerCode[],
    lane: Lane,
    requests: SandboxRequest[],
    batch: Batch | undefined,
    deadlineMs: number,
  ): Promise<SandboxAnswer> {
    let answers: SandboxDecision[] | undefined;
    try {
      answers = await this.call(policyKey, layers, requests, deadlineMs);
    } catch (error) {
      if (requests.length === 1) throw error;
    } finally {
      batch?.settle(answers);
      const next = lane.gathering;
      lane.gathering = undefined;
      if (next) next.open();
      else {
        lane.flying = false;
        if (this.lanes.get(policyKey) === lane) this.lanes.delete(policyKey);
      }
    }
    return answers ? fromWireDecision(answers[0]) : this.alone(policyKey, layers, requests[0], deadlineMs);
  }

  /** One decision in a call of its own, outside any lane. */
  private async alone(policyKey: string, layers: () => LayerCode[], request: SandboxRequest, deadlineMs: number): Promise<SandboxAnswer> {
    const [answer] = await this.call(policyKey, layers, [request], deadlineMs);
    return fromWireDecision(answer);
  }

  private async call(policyKey: string, layers: () => LayerCode[], requests: SandboxRequest[], deadlineMs: number): Promise<SandboxDecision[]> {
    const sandbox = this.sandbox(policyKey, layers);
    const [first] = requests;
    const call =
      requests.length === 1 ? sandbox.decide(first.inputJson, first.nowMs, first.runtime, first.budgetMs).then((answer) => [answer]) : sandbox.decideEach(requests);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (Number.isFinite(deadlineMs)) timer = setTimeout(() => reject(new SandboxTimeout(`the policy did not answer within ${deadlineMs} ms`)), deadlineMs);
    });
    try {
      const answers = await Promise.race([call, timeout]);
      if (answers.length !== requests.length) throw new Error(`the sandbox answered ${answers.length} of ${requests.length} decisions`);
      return answers;
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
    return this.sandbox(policyKey, layers).measure(inputJson, nowMs, iterations);
  }
}

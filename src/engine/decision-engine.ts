/**
 * @module decision-engine
 * Chooses which code evaluates a decision and what happens when it cannot.
 * The normal path crosses into the policy sandbox once per decision. If the
 * sandbox cannot be used (loader unavailable, RPC failure, CPU limit), the
 * baseline compiled into the deploy may answer in this isolate, but only
 * when it is the very composition that governs the request (the same layer
 * digests): an older or narrower policy never stands in for the published
 * one. Otherwise, or if that also fails, the tier's fail mode decides.
 *
 * A policy that has answered in this isolate (a decision, or its warm-up)
 * and then fails on an input, by running out of time or aborting, is
 * failing because of that input: the input is refused whatever the tier
 * (compose.ts, inputFailureDecision), so no caller can shape an input into a
 * fail-open allow. Its sandbox failing in any other way gets one retry in a
 * fresh sandbox first, since an isolate can be lost for reasons of its own.
 * A policy that has never answered gets the tier's fail mode.
 */
import { BASELINE_LAYER, BASELINE_REF } from "../bundles/baseline";
import { BASELINE_POLICY, withoutLayersAfter, type ActivePolicy } from "../bundles/active-policy";
import type { EvaluationPath } from "../types";
import { composeLayers, failModeDecision, inputFailureDecision, type ComposedDecision } from "./compose";
import type { FallbackParams } from "./fallback-params";
import { PolicyEvaluator } from "./evaluator";
import { SandboxClient, SandboxTimeout } from "./sandbox-client";
import type { EdgeRuntimeInfo, LayerOutcome } from "./sandbox-protocol";

export type EngineMode = "sandbox" | "isolate";

/** A decision takes microseconds to evaluate and a fraction of a millisecond to reach; this is a runaway. */
export const DEFAULT_POLICY_TIMEOUT_MS = 250;

export interface EngineResult {
  decision: ComposedDecision;
  path: EvaluationPath;
  eval_us: number;
  /** Why the preferred path did not answer, when it did not. */
  fallback_reason?: string;
  /** What each layer's policy printed (print()), by layer scope, bounded; absent when nothing was printed. */
  print?: Record<string, string[]>;
}

function printedBy(outcomes: LayerOutcome[]): Record<string, string[]> | undefined {
  const printing = outcomes.filter((outcome) => outcome.print && outcome.print.length > 0);
  return printing.length > 0 ? Object.fromEntries(printing.map((outcome) => [outcome.scope, outcome.print!])) : undefined;
}

/** opa.runtime() facts: the caller's (location, region) and the digests of the layers deciding. */
function runtimeFor(policy: ActivePolicy, runtime: EdgeRuntimeInfo | undefined): EdgeRuntimeInfo {
  const bundles = Object.fromEntries(policy.layers.map((layer) => [layer.scope, { digest: layer.digest, version: layer.version }]));
  // The layers actually deciding are the engine's to say (the baseline, when it answers instead).
  return { ...runtime, bundles };
}

function withPrint(result: EngineResult, outcomes: LayerOutcome[]): EngineResult {
  const print = printedBy(outcomes);
  return print ? { ...result, print } : result;
}

let baselineEvaluator: Promise<PolicyEvaluator> | undefined;

function baseline(): Promise<PolicyEvaluator> {
  baselineEvaluator ??= PolicyEvaluator.load(BASELINE_LAYER.wasm as WebAssembly.Module, BASELINE_LAYER.data, BASELINE_LAYER.entrypoint).catch(
    (error) => {
      baselineEvaluator = undefined;
      throw error;
    },
  );
  return baselineEvaluator;
}

/** Whether the baseline in this isolate is exactly the policy that governs: one layer, the same digest. */
export function isBaselineComposition(policy: ActivePolicy): boolean {
  return policy.layers.length === 1 && policy.layers[0].digest === BASELINE_REF.digest;
}

async function evaluateBaseline(inputJson: string, nowMs: number, runtime: EdgeRuntimeInfo): Promise<{ outcomes: LayerOutcome[]; eval_us: number }> {
  const evaluator = await baseline();
  const started = performance.now();
  try {
    const outcome = evaluator.evaluate(inputJson, nowMs, runtime);
    return { outcomes: [{ scope: BASELINE_LAYER.scope, ...outcome }], eval_us: Math.round((performance.now() - started) * 1000) };
  } catch (error) {
    const code = (error as { code?: string }).code ?? "policy_aborted";
    const print = (error as { print?: string[] }).print;
    return { outcomes: [{ scope: BASELINE_LAYER.scope, error: { code, message: (error as Error).message }, ...(print ? { print } : {}) }], eval_us: 0 };
  }
}

/**
 * What a sandbox is warmed with: an authenticated agent's tool call, as the
 * edge would build it (identity, session usage, region). Nothing in it is any
 * tenant's; the answer is thrown away.
 */
const WARM_UP_INPUT = JSON.stringify({
  tenant: "warm-up",
  risk_tier: "low",
  agent: { id: "warm-up", role: "support", scopes: [], delegation_depth: 0 },
  session: { id: "warm-up", usage: { tokens: 0, api_calls: 0, cost_usd: 0, wall_clock_s: 0 }, data_classes: [] },
  action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } },
  identity: {
    tenant: "warm-up",
    agent: "warm-up",
    role: "support",
    scopes: [],
    credential: { kind: "agent_key", id: "warm-up" },
    registration: { owner: "warm-up", role: "support", risk_tier: "low", max_risk_tier: "low", certified_until: "2000-01-01T00:00:00.000Z", scopes: [] },
    delegation: { depth: 0 },
  },
  edge: { region: "global", region_source: "default", location: "warm-up" },
});

/** How many policies' "has answered" this isolate remembers (each a key: a few dozen bytes). */
const MAX_ANSWERING_POLICIES = 1_000;

export class DecisionEngine {
  private readonly sandbox: SandboxClient | undefined;
  /** The policies (by key) every layer of which has answered in this isolate. */
  private readonly answering = new Set<string>();

  constructor(
    loader: WorkerLoader | undefined,
    private readonly mode: EngineMode = "sandbox",
    private readonly timeoutMs = DEFAULT_POLICY_TIMEOUT_MS,
  ) {
    this.sandbox = loader ? new SandboxClient(loader) : undefined;
  }

  /**
   * Loads a policy's sandbox ahead of its first decision, so activating it
   * never stalls one, and evaluates a typical decision in it (its answer
   * unused): an empty input leaves most of the policy's code, wasm and
   * JavaScript alike, to be compiled during the first real decision.
   */
  async warm(policy: ActivePolicy): Promise<void> {
    if (!this.sandbox) return;
    const answer = await this.sandbox.decide(policy.key, policy.code, WARM_UP_INPUT, Date.now(), undefined, this.timeoutMs).catch(() => undefined);
    if (answer) this.noteAnswers(policy.key, answer.layers);
  }

  private noteAnswers(policyKey: string, outcomes: LayerOutcome[]): void {
    if (outcomes.length === 0 || outcomes.some((outcome) => outcome.error !== undefined) || this.answering.has(policyKey)) return;
    this.answering.add(policyKey);
    if (this.answering.size > MAX_ANSWERING_POLICIES) this.answering.delete(this.answering.values().next().value!);
  }

  /**
   * When a composition's sandbox could not decide at all (a layer that does
   * not load, or a policy that never answered running out of time), the
   * layers above the failing ones still judge: the same composition without
   * its most specific layers, one at a time. After a time-out only a narrower
   * one that has answered in this isolate is tried (the global composition is
   * warmed before it is activated), so a runaway shared by all of them costs
   * one deadline, not one per layer. The layers left out each contribute the
   * tier's fail mode, so the answer is never looser than what the layers
   * above them decide: a region or tenant layer that cannot run cannot take
   * the global rules down.
   */
  private async withoutFailingLayers(policy: ActivePolicy, inputJson: string, fallback: FallbackParams, nowMs: number, runtime: EdgeRuntimeInfo | undefined, code: string, message: string): Promise<EngineResult | undefined> {
    if (!this.sandbox) return undefined;
    for (let count = policy.layers.length - 1; count >= 1; count--) {
      const narrower = withoutLayersAfter(policy, count);
      if (code === "policy_timeout" && !this.answering.has(narrower.key)) continue;
      try {
        const answer = await this.sandbox.decide(narrower.key, narrower.code, inputJson, nowMs, runtimeFor(narrower, runtime), this.timeoutMs);
        const dropped = policy.layers.slice(count).map((layer) => ({ scope: layer.scope, error: { code, message: `the composition with this layer could not be evaluated: ${message}` } }));
        const outcomes = [...answer.layers, ...dropped];
        const reason = `sandbox unavailable: ${message}; decided without ${dropped.map((layer) => layer.scope).join(", ")}`;
        return withPrint({ decision: composeLayers(outcomes, fallback, false), path: "sandbox", eval_us: answer.eval_us, fallback_reason: reason }, answer.layers);
      } catch {
        // That one cannot decide either: try the next narrower one.
      }
    }
    return undefined;
  }

  /**
   * A policy that answers other inputs whose sandbox failed on this one
   * without running out of time: either the sandbox broke for its own
   * reasons (its isolate was lost) or the input broke it. A fresh sandbox
   * tries the same input once more, so the first costs one retry; a second
   * failure is the input's doing, and the input is refused whatever the
   * tier's fail mode. The narrower compositions are not asked: the layers
   * they leave out would add only their tier's fail mode, which at a tier
   * that fails open would let an input that breaks one layer shed it.
   */
  private async againInFreshSandbox(policy: ActivePolicy, inputJson: string, fallback: FallbackParams, nowMs: number, runtime: EdgeRuntimeInfo | undefined, first: string): Promise<EngineResult> {
    this.sandbox!.abandon(policy.key);
    const fallbackReason = `sandbox failed: ${first}; tried once more in a fresh sandbox`;
    try {
      const answer = await this.sandbox!.decide(policy.key, policy.code, inputJson, nowMs, runtimeFor(policy, runtime), this.timeoutMs);
      return withPrint({ decision: composeLayers(answer.layers, fallback, true), path: "sandbox", eval_us: answer.eval_us, fallback_reason: fallbackReason }, answer.layers);
    } catch (error) {
      const code = error instanceof SandboxTimeout ? "policy_timeout" : "sandbox_unavailable";
      return { decision: inputFailureDecision(fallback, "sandbox", code, (error as Error).message), path: "fail_mode", eval_us: 0, fallback_reason: `${fallbackReason}, which failed too: ${(error as Error).message}` };
    }
  }

  /** `runtime` is what the caller knows of this edge for opa.runtime() (location, region); the layers' digests are added here. */
  async decide(policy: ActivePolicy, inputJson: string, fallback: FallbackParams, nowMs: number, runtime?: EdgeRuntimeInfo): Promise<EngineResult> {
    let fallbackReason: string | undefined;
    const sameAsBaseline = isBaselineComposition(policy);
    const inIsolate = this.mode === "isolate" && sameAsBaseline;
    if (this.sandbox && !inIsolate) {
      try {
        const answer = await this.sandbox.decide(policy.key, policy.code, inputJson, nowMs, runtimeFor(policy, runtime), this.timeoutMs);
        this.noteAnswers(policy.key, answer.layers);
        return withPrint({ decision: composeLayers(answer.layers, fallback, this.answering.has(policy.key)), path: "sandbox", eval_us: answer.eval_us }, answer.layers);
      } catch (error) {
        const message = (error as Error).message;
        fallbackReason = `sandbox unavailable: ${message}`;
        // A policy that ran out of time (our deadline, or the platform's CPU limit) would run away here too.
        const timedOut = error instanceof SandboxTimeout || /cpu time|exceeded cpu/i.test(message);
        // An input that a policy which answers others cannot finish is refused.
        if (timedOut && this.answering.has(policy.key)) {
          return { decision: inputFailureDecision(fallback, "sandbox", "policy_timeout", message), path: "fail_mode", eval_us: 0, fallback_reason: fallbackReason };
        }
        if (!timedOut && this.answering.has(policy.key)) return this.againInFreshSandbox(policy, inputJson, fallback, nowMs, runtime, message);
        const narrower = await this.withoutFailingLayers(policy, inputJson, fallback, nowMs, runtime, timedOut ? "policy_timeout" : "sandbox_unavailable", message);
        if (narrower) return narrower;
        // The same code would run away in this isolate too: no baseline, the tier's fail mode.
        if (timedOut) return { decision: failModeDecision(fallback, "sandbox", "policy_timeout", message), path: "fail_mode", eval_us: 0, fallback_reason: fallbackReason };
      }
    } else if (!this.sandbox) {
      fallbackReason = "no worker loader binding";
    }
    if (!sameAsBaseline) {
      // The baseline is another policy than the one that governs: it may not stand in for it.
      return { decision: failModeDecision(fallback, "sandbox", "sandbox_unavailable", fallbackReason ?? "the sandbox did not answer"), path: "fail_mode", eval_us: 0, fallback_reason: fallbackReason };
    }
    try {
      const answer = await evaluateBaseline(inputJson, nowMs, runtimeFor(BASELINE_POLICY, runtime));
      this.noteAnswers(BASELINE_POLICY.key, answer.outcomes);
      return withPrint(
        { decision: composeLayers(answer.outcomes, fallback, this.answering.has(BASELINE_POLICY.key)), path: "baseline", eval_us: answer.eval_us, fallback_reason: fallbackReason },
        answer.outcomes,
      );
    } catch (error) {
      const message = (error as Error).message;
      return {
        decision: failModeDecision(fallback, BASELINE_LAYER.scope, "baseline_unavailable", message),
        path: "fail_mode",
        eval_us: 0,
        fallback_reason: fallbackReason ? `${fallbackReason}; baseline: ${message}` : message,
      };
    }
  }
}

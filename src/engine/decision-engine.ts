/**
 * @module decision-engine
 * Chooses which code evaluates a decision and falls back when it cannot. The
 * normal path crosses into the policy sandbox once per decision; if the
 * sandbox cannot be used (loader unavailable, RPC failure, CPU limit), the
 * baseline policy compiled into the deploy answers in this isolate, and the
 * response says so. Only if that also fails does the risk tier's fail mode
 * decide.
 */
import { BASELINE_LAYER } from "../bundles/baseline";
import { BASELINE_POLICY, type ActivePolicy } from "../bundles/active-policy";
import type { EvaluationPath, RiskTier } from "../types";
import { composeLayers, failModeDecision, type ComposedDecision } from "./compose";
import { PolicyEvaluator } from "./evaluator";
import { SandboxClient } from "./sandbox-client";
import type { EdgeRuntimeInfo, LayerOutcome } from "./sandbox-protocol";

export type EngineMode = "sandbox" | "isolate";

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

export class DecisionEngine {
  private readonly sandbox: SandboxClient | undefined;

  constructor(
    loader: WorkerLoader | undefined,
    private readonly mode: EngineMode = "sandbox",
  ) {
    this.sandbox = loader ? new SandboxClient(loader) : undefined;
  }

  /** Loads a policy's sandbox ahead of its first decision, so activating it never stalls one. */
  async warm(policy: ActivePolicy): Promise<void> {
    if (!this.sandbox) return;
    await this.sandbox.measure(policy.key, policy.code, "{}", Date.now(), 0).catch(() => undefined);
  }

  /** `runtime` is what the caller knows of this edge for opa.runtime() (location, region); the layers' digests are added here. */
  async decide(policy: ActivePolicy, inputJson: string, tier: RiskTier, nowMs: number, runtime?: EdgeRuntimeInfo): Promise<EngineResult> {
    let fallbackReason: string | undefined;
    const inIsolate = this.mode === "isolate" && policy.isBaseline;
    if (this.sandbox && !inIsolate) {
      try {
        const answer = await this.sandbox.decide(policy.key, policy.code, inputJson, nowMs, runtimeFor(policy, runtime));
        return withPrint({ decision: composeLayers(answer.layers, tier), path: "sandbox", eval_us: answer.eval_us }, answer.layers);
      } catch (error) {
        fallbackReason = `sandbox unavailable: ${(error as Error).message}`;
      }
    } else if (!this.sandbox) {
      fallbackReason = "no worker loader binding";
    }
    try {
      const answer = await evaluateBaseline(inputJson, nowMs, runtimeFor(BASELINE_POLICY, runtime));
      return withPrint(
        { decision: composeLayers(answer.outcomes, tier), path: "baseline", eval_us: answer.eval_us, fallback_reason: fallbackReason },
        answer.outcomes,
      );
    } catch (error) {
      const message = (error as Error).message;
      return {
        decision: failModeDecision(tier, BASELINE_LAYER.scope, "baseline_unavailable", message),
        path: "fail_mode",
        eval_us: 0,
        fallback_reason: fallbackReason ? `${fallbackReason}; baseline: ${message}` : message,
      };
    }
  }
}

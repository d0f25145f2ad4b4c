/**
 * @module pipeline
 * One decision, start to finish, after the request has been validated:
 * resolve the policy that governs it, evaluate it once, and shape the
 * response. Each stage lives in its own module; this file only orders them,
 * so the path a decision takes can be read top to bottom here.
 */
import { BASELINE_POLICY, type ActivePolicy } from "../bundles/active-policy";
import { newDecisionId } from "../decision-id";
import { DecisionEngine, type EngineMode, type EngineResult } from "../engine/decision-engine";
import type { RiskTier } from "../types";

export interface DecisionRequest {
  /** The request body exactly as sent; the policy sees these bytes. */
  inputJson: string;
  input: { risk_tier: RiskTier; tenant: string; [key: string]: unknown };
  location: string;
}

export interface DecisionResponse {
  decision_id: string;
  decision: string;
  [field: string]: unknown;
}

let engine: DecisionEngine | undefined;
function engineFor(env: Env): DecisionEngine {
  engine ??= new DecisionEngine(env.LOADER, (env.POLICY_ENGINE as EngineMode | undefined) ?? "sandbox");
  return engine;
}

function respond(
  decisionId: string,
  policy: ActivePolicy,
  result: EngineResult,
  request: DecisionRequest,
  env: Env,
): DecisionResponse {
  const { fail_mode_applied, decision, reasons, obligations, ...rest } = result.decision;
  return {
    decision_id: decisionId,
    decision,
    reasons,
    obligations,
    ...rest,
    policy: { key: policy.key, layers: policy.layers },
    evaluation: { path: result.path, eval_us: result.eval_us, fallback_reason: result.fallback_reason },
    edge: { location: request.location, region: env.EDGE_REGION },
    mode: "enforce",
    stale: false,
    ...(fail_mode_applied ? { fail_mode_applied } : {}),
  };
}

export async function runDecision(env: Env, request: DecisionRequest): Promise<DecisionResponse> {
  const now = Date.now();
  const decisionId = newDecisionId(now);
  const policy = BASELINE_POLICY;
  const result = await engineFor(env).decide(policy, request.inputJson, request.input.risk_tier, now);
  return respond(decisionId, policy, result, request, env);
}

/**
 * @module pipeline
 * One decision, start to finish, after the request has been validated:
 * resolve the policy that governs it (the bundle store's composition for this
 * tenant, or the baseline), evaluate it once, and shape the response. Each
 * stage lives in its own module; this file only orders them, so the path a
 * decision takes can be read top to bottom here.
 */
import type { ActivePolicy } from "../bundles/active-policy";
import { edgeStore } from "../bundles/edge-store";
import { BASELINE_POLICY } from "../bundles/active-policy";
import type { Resolution } from "../bundles/policy-store";
import { newDecisionId } from "../decision-id";
import { failModeDecision } from "../engine/compose";
import { DecisionEngine, type EngineMode, type EngineResult } from "../engine/decision-engine";
import { buildAuditRecord, type AnsweredDecision } from "../audit/from-decision";
import { appendAcknowledged, enqueueAudit, wantsSyncAudit } from "../audit/writer";
import { trustStoreFrom } from "../bundles/trust";
import { modeFor, rolloutFor, type Mode } from "../rollout/config";
import { runShadows } from "../rollout/shadow";
import type { DecisionInput } from "../schema/decision-input";
import { lastUsage } from "../session/client";
import { sessionKey } from "../session/objects";
import { applySessionState, type SessionReport } from "../session/stage";
import type { RiskTier } from "../types";

export interface DecisionRequest {
  /** The request body exactly as sent; the policy sees these bytes. */
  inputJson: string;
  input: DecisionInput;
  location: string;
  /** The caller's Idempotency-Key: a retried request with the same key is committed once. */
  idempotencyKey?: string;
}

export interface DecisionResponse {
  decision_id: string;
  decision: string;
  [field: string]: unknown;
}

/** The part of the execution context a decision needs: work that outlives the response. */
export interface Background {
  waitUntil(promise: Promise<unknown>): void;
}

let engine: DecisionEngine | undefined;
export function engineFor(env: Env): DecisionEngine {
  engine ??= new DecisionEngine(env.LOADER, (env.POLICY_ENGINE as EngineMode | undefined) ?? "sandbox");
  return engine;
}

/** The policy for this request; the first decision of an isolate waits for the last known good. */
async function resolvePolicy(env: Env, ctx: Background, tenant: string, now: number): Promise<Resolution> {
  const store = edgeStore(env, now, (policy) => engineFor(env).warm(policy));
  if (!store) return { policy: BASELINE_POLICY, source: "baseline", stale: false };
  await store.ensureLoaded(now);
  const refresh = store.maybeRefresh(now);
  if (refresh) ctx.waitUntil(refresh);
  return store.resolve(tenant, now);
}

/**
 * The policy input: the body as sent, or — when the caller sent no usage and
 * this isolate knows what the session's object last reported — the body with
 * that usage filled in.
 */
function policyInput(request: DecisionRequest): string {
  const { input } = request;
  if (input.session.usage !== undefined) return request.inputJson;
  const usage = lastUsage(sessionKey(input.tenant, input.session.id));
  return usage ? JSON.stringify({ ...input, session: { ...input.session, usage } }) : request.inputJson;
}

function respond(
  decisionId: string,
  policy: ActivePolicy,
  resolution: Resolution,
  result: EngineResult,
  session: SessionReport | undefined,
  mode: Mode,
  request: DecisionRequest,
  env: Env,
): DecisionResponse {
  const { fail_mode_applied, decision, reasons, obligations, ...rest } = result.decision;
  // Observe mode: the agent is told allow; what enforcement would have done travels beside it.
  const observing = mode === "observe" && decision !== "allow";
  return {
    decision_id: decisionId,
    decision: observing ? "allow" : decision,
    reasons: observing ? [] : reasons,
    obligations,
    ...(observing ? { observed: { decision, reasons } } : {}),
    ...rest,
    policy: { key: policy.key, source: resolution.source, layers: policy.layers },
    evaluation: { path: result.path, eval_us: result.eval_us, fallback_reason: result.fallback_reason },
    edge: { location: request.location, region: env.EDGE_REGION },
    ...(session ? { session } : {}),
    mode,
    stale: resolution.stale || resolution.unusable !== undefined,
    ...(fail_mode_applied ? { fail_mode_applied } : {}),
  };
}

/** Evaluates the resolved policy, unless it may no longer be used: then the tier's fail mode decides. */
export async function evaluate(engine: DecisionEngine, resolution: Resolution, inputJson: string, tier: RiskTier, now: number): Promise<EngineResult> {
  if (resolution.unusable) {
    const { code, message } = resolution.unusable;
    return { decision: failModeDecision(tier, "store", code, message, code), path: "fail_mode", eval_us: 0 };
  }
  return engine.decide(resolution.policy, inputJson, tier, now);
}

export async function runDecision(env: Env, ctx: Background, request: DecisionRequest): Promise<DecisionResponse> {
  const now = Date.now();
  const decisionId = newDecisionId(now);
  const resolution = await resolvePolicy(env, ctx, request.input.tenant, now);
  const result = await evaluate(engineFor(env), resolution, policyInput(request), request.input.risk_tier, now);
  let session: SessionReport | undefined;
  if ((env.SESSION_STATE as string) !== "off") {
    const timeout = Number(env.SESSION_TIMEOUT_MS) || 250;
    const merged = await applySessionState(env.SESSIONS, timeout, request.input, result.decision, decisionId, now, request.idempotencyKey);
    result.decision = merged.decision;
    session = merged.session;
  }
  const refreshMs = Number(env.BUNDLE_REFRESH_SECONDS) * 1000;
  const rollout = await rolloutFor(env.BUNDLES, now, refreshMs);
  const mode = modeFor(rollout, env.EDGE_REGION, request.input.tenant);
  const response = respond(decisionId, resolution.policy, resolution, result, session, mode, request, env);
  const scopes = ["global", `region:${env.EDGE_REGION}`, `tenant:${request.input.tenant}`].filter((scope) => rollout.shadow[scope]);
  if (scopes.length > 0 && !resolution.unusable) {
    ctx.waitUntil(
      runShadows({
        config: rollout,
        bucket: env.BUNDLES,
        trust: trustStoreFrom(env.TRUST_STORE),
        engine: engineFor(env),
        active: resolution.policy,
        activeDecision: result.decision,
        scopes,
        inputJson: request.inputJson,
        tier: request.input.risk_tier,
        decisionId,
        requestTenant: request.input.tenant,
        tool: (request.input.action as { tool?: string }).tool ?? null,
        nowMs: now,
      })
        .then((diffs) => enqueueAudit(env, diffs, (work) => ctx.waitUntil(work)))
        .catch((error) => console.error(`shadow evaluation failed: ${(error as Error).message}`)),
    );
  }
  if ((env.AUDIT as string) !== "off") return audited(env, ctx, response, request.input, now);
  return response;
}

/**
 * Leaves the decision's record. Normally the record is only promised here
 * and built when its batch leaves, so the agent waits for none of it. When
 * the policy demands an acknowledged record it is appended before the
 * answer, and if none can be written the agent is denied (the record of that
 * denial still goes to the Queue): an action that must be on the record does
 * not proceed off it.
 */
async function audited(env: Env, ctx: Background, response: DecisionResponse, input: DecisionInput, now: number): Promise<DecisionResponse> {
  const background = (work: Promise<unknown>) => ctx.waitUntil(work);
  const answer = response as unknown as AnsweredDecision;
  if (!wantsSyncAudit(answer.obligations)) {
    enqueueAudit(env, [() => buildAuditRecord(answer, input, now)], background);
    return response;
  }
  try {
    await appendAcknowledged(env, await buildAuditRecord(answer, input, now));
    return { ...response, audit: "acknowledged" };
  } catch (error) {
    const message = `the policy requires an acknowledged audit record and none could be written (${(error as Error).message})`;
    const { observed: _observed, ...answered } = response;
    const denied: DecisionResponse = { ...answered, decision: "deny", reasons: [{ rule: "audit_unavailable", message }], audit: "unavailable" };
    enqueueAudit(env, [() => buildAuditRecord(denied as unknown as AnsweredDecision, input, now)], background);
    return denied;
  }
}

/**
 * @module pipeline
 * One decision, start to finish, after the request has been authenticated
 * and validated: check the body against the credential, resolve the region
 * that governs it and the policy composed for that region and tenant,
 * compute the effective risk tier, evaluate once, commit to the session,
 * and shape the response. Each stage lives in its own module; this file only
 * orders them, so the path a decision takes can be read top to bottom here.
 */
import { edgeStore } from "../bundles/edge-store";
import { BASELINE_POLICY } from "../bundles/active-policy";
import type { Resolution } from "../bundles/policy-store";
import { newDecisionId } from "../decision-id";
import { ApiError } from "../errors";
import { composeLayers, failModeDecision, type ComposedDecision } from "../engine/compose";
import { DecisionEngine, DEFAULT_POLICY_TIMEOUT_MS, type EngineMode, type EngineResult } from "../engine/decision-engine";
import type { EdgeRuntimeInfo } from "../engine/sandbox-protocol";
import { fallbackParams, reachesOutside, type FallbackParams } from "../engine/fallback-params";
import { criticalDenyAlert } from "../alerts/decision-alerts";
import { queueAlert } from "../alerts/alert-batches";
import { buildAuditRecord, type AnsweredDecision } from "../audit/from-decision";
import { appendAcknowledged, enqueueAudit, wantsSyncAudit } from "../audit/writer";
import { trustStoreFrom } from "../bundles/trust";
import { canDelegate, mintDelegation, type DelegatedCredential } from "../identity/delegation";
import { MAX_SUB_AGENT_ID_LENGTH, subAgentId } from "../identity/registration";
import type { Identity } from "../identity/types";
import type { RolloutDocument } from "../rollout/document";
import { modeAcross, type ModeDecision } from "../rollout/mode";
import { runShadows } from "../rollout/shadow";
import type { DecisionBody, DecisionInput } from "../schema/decision-input";
import type { LayerRef } from "../types";
import { agentTaint, type AgentTaint } from "../session/agent-taint";
import { lastClasses, lastUsage } from "../session/client";
import type { Usage } from "../session/types";
import { sessionKey } from "../session/objects";
import { enterSession, leaveSession, MAX_IN_FLIGHT_PER_SESSION } from "../session/in-flight";
import { applySessionState, type SessionReport } from "../session/stage";
import { receiptParams } from "../engine/receipt-params";
import { signReceipt } from "../receipts/receipt-signer";
import { effectiveTier, type EffectiveTier } from "./effective-tier";
import { assertConsistent, policyInput } from "./policy-input";
import { governingRegions, resolveRegion, type RegionResolution, type RequestLocation } from "./region";

export interface DecisionRequest {
  body: DecisionBody;
  identity: Identity;
  /** Where the request came from, as the platform reports it (absent in local development). */
  location?: RequestLocation;
  /** The edge location that answers (the Cloudflare colo, or EDGE_LOCATION). */
  colo: string;
  /** The caller's Idempotency-Key: a retried request with the same key is committed once. */
  idempotencyKey?: string;
  /** The MCP gateway: an approved approval for exactly this action is used without the body naming it. */
  approvalByAction?: boolean;
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
  engine ??= new DecisionEngine(env.LOADER, (env.POLICY_ENGINE as EngineMode | undefined) ?? "sandbox", Number(env.POLICY_TIMEOUT_MS) || DEFAULT_POLICY_TIMEOUT_MS);
  return engine;
}

export interface Governing {
  region: RegionResolution;
  resolution: Resolution;
  /**
   * The rollout documents of each chain of scopes that governs the request, most specific first
   * (tenant, region, global): the region it is pinned to and, when it comes from another, that one.
   */
  rolloutChains: RolloutDocument[][];
}

/**
 * The region that governs a tenant's request and the policy composed for
 * it; the first decision of an isolate waits for the last known good.
 */
export async function governingPolicy(env: Env, ctx: Background, tenant: string, location: RequestLocation | undefined, now: number): Promise<Governing> {
  const store = edgeStore(env, now, (policy) => engineFor(env).warm(policy));
  if (!store) {
    const region = resolveRegion(undefined, regionTable(BASELINE_POLICY.data[0]), location, env.EDGE_REGION);
    return { region, resolution: { policy: BASELINE_POLICY, source: "baseline", stale: false }, rolloutChains: [] };
  }
  await store.ensureLoaded(now);
  if (store.mustCheckFirst(now)) {
    // Long unconfirmed (idle, or failing): ask the store before judging, within a deadline.
    const check = store.refresh(now);
    ctx.waitUntil(check);
    await deadline(check, STORE_CHECK_DEADLINE_MS);
  } else {
    const refresh = store.maybeRefresh(now);
    if (refresh) ctx.waitUntil(refresh);
  }
  const warming = store.pendingWork();
  if (warming) ctx.waitUntil(warming);
  const region = resolveRegion(store.tenantPin(tenant), regionTable(store.globalData()), location, env.EDGE_REGION);
  const regions = governingRegions(region);
  // Each region whose layer governs brings its documents: a pin never leaves the rollout of the region the request comes from.
  const rolloutChains = regions.map((name) => store.rolloutsFor([`tenant:${tenant}`, `region:${name}`, "global"]));
  return { region, resolution: store.resolve(tenant, regions, now), rolloutChains };
}

/** How long a decision waits for the store when its policy is long unconfirmed. */
const STORE_CHECK_DEADLINE_MS = 2_000;

function deadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([work.then(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
}

function regionTable(globalData: unknown): unknown {
  return (globalData as { tollgate?: { params?: { regions?: unknown } } } | undefined)?.tollgate?.params?.regions;
}

/**
 * The session's data classes as the policy sees them: those the body
 * reports, those this isolate last saw the session's object hold, and any
 * the object just said it holds. The set only grows; the object refuses a
 * commit evaluated without one it holds.
 */
export function withSessionClasses(input: DecisionInput, held: string[]): DecisionInput {
  const reported = (input.session as { data_classes?: string[] }).data_classes ?? [];
  const cached = lastClasses(sessionKey(input.tenant, input.agent.id, input.session.id));
  const classes = [...new Set([...reported, ...cached, ...held])].sort();
  return { ...input, session: { ...input.session, data_classes: classes } };
}

/** The Tollgate tools an action would use: a plan's steps', a call's or a listing's. */
function toolsOf(input: DecisionInput): string[] {
  const action = input.action as { type?: string; tool?: unknown; tools?: unknown; steps?: Array<{ tool?: unknown }> };
  const named = action.type === "plan" ? (action.steps ?? []).map((step) => step.tool) : action.type === "list_tools" ? (Array.isArray(action.tools) ? action.tools : []) : [action.tool];
  return named.filter((tool): tool is string => typeof tool === "string");
}

/**
 * Asks the agent's object which classes of data any of its sessions read
 * within the policy's window (session/agent-taint.ts), when the action
 * reaches outside: an agent cannot shed its taint by moving to another
 * session. Other actions ask nothing (undefined).
 */
export function askAgentTaint(env: Env, input: DecisionInput, layers: unknown[], nowMs: number): Promise<AgentTaint> | undefined {
  if ((env.SESSION_STATE as string) === "off" || !reachesOutside(layers, toolsOf(input))) return undefined;
  return agentTaint(env, input.identity, layers, nowMs, Number(env.SESSION_TIMEOUT_MS) || 250);
}

/** Classes the agent's other sessions read that `input` was not evaluated with. */
function unseenClasses(input: DecisionInput, taint: AgentTaint | undefined): string[] {
  if (!taint?.known) return [];
  const seen = (input.session as { data_classes?: string[] }).data_classes ?? [];
  return taint.classes.filter((c) => !seen.includes(c));
}

/** The input with what the agent's object answered (listings, which are advice, use it as it is). */
export async function withAgentTaint(env: Env, input: DecisionInput, layers: unknown[], nowMs: number): Promise<DecisionInput> {
  const unseen = unseenClasses(input, await askAgentTaint(env, input, layers, nowMs));
  return unseen.length > 0 ? withSessionClasses(input, unseen) : input;
}

/** An action that reaches outside, for an agent whose reads could not be learnt, is refused. */
function refusedWithoutAgentTaint(decision: ComposedDecision, unknown: string | undefined): ComposedDecision {
  if (unknown === undefined || decision.decision === "deny") return decision;
  const reason = { rule: "agent_taint_unknown", message: `the classes of data the agent's other sessions read could not be learnt (${unknown}); an action that reaches outside is refused` };
  return { ...decision, decision: "deny", reasons: [...decision.reasons, reason] };
}

/** How many times a decision is evaluated again because the session held classes it was not evaluated with. */
const MAX_TAINT_ROUNDS = 3;

/**
 * The policy input as JSON: where this isolate knows what the session's
 * object last reported, that usage is filled in so the policy sees recent
 * numbers. A caller may report more than that (what this edge has not heard
 * of yet), never less: when the object cannot answer, a tier that fails
 * open keeps the policy's answer, and the policy's budget check is then the
 * only one.
 */
function inputJsonOf(input: DecisionInput): string {
  const known = lastUsage(sessionKey(input.tenant, input.agent.id, input.session.id));
  if (!known) return JSON.stringify(input);
  const reported = (input.session.usage ?? {}) as Partial<Usage>;
  const usage = { ...reported };
  for (const dimension of Object.keys(known) as Array<keyof Usage>) usage[dimension] = Math.max(reported[dimension] ?? 0, known[dimension]);
  return JSON.stringify({ ...input, session: { ...input.session, usage } });
}

interface Answer {
  decisionId: string;
  governing: Governing;
  tier: EffectiveTier;
  result: EngineResult;
  session?: SessionReport;
  mode: ModeDecision;
  identity: Identity;
  colo: string;
  delegated?: DelegatedCredential;
}

function respond({ decisionId, governing, tier, result, session, mode, identity, colo, delegated }: Answer): DecisionResponse {
  const { fail_mode_applied, decision, reasons, obligations, ...rest } = result.decision;
  const { policy, ...resolution } = governing.resolution;
  // Observe mode: the agent is told allow; what enforcement would have done travels beside it.
  const observing = mode.mode === "observe" && decision !== "allow";
  return {
    decision_id: decisionId,
    decision: observing ? "allow" : decision,
    reasons: observing ? [] : reasons,
    obligations,
    ...(observing ? { observed: { decision, reasons } } : {}),
    ...rest,
    risk: { tier: tier.tier, ...(tier.declared ? { declared: tier.declared } : {}), source: tier.source },
    identity,
    policy: { key: policy.key, source: resolution.source, layers: policy.layers },
    evaluation: { path: result.path, eval_us: result.eval_us, fallback_reason: result.fallback_reason },
    edge: { location: colo, region: governing.region.region, region_source: governing.region.source, ...(governing.region.located ? { located_region: governing.region.located } : {}) },
    ...(session ? { session } : {}),
    ...(delegated ? { delegated_credential: delegated } : {}),
    mode: mode.mode,
    ...(mode.observe_refused ? { observe_refused: mode.observe_refused } : {}),
    stale: resolution.stale || resolution.unusable !== undefined,
    ...(fail_mode_applied ? { fail_mode_applied } : {}),
  };
}

/**
 * Evaluates the resolved policy. One that may no longer be used (stale, or
 * expired) still judges, and the tier's fail mode is one more answer: so a
 * failure only ever makes a decision stricter. Keeping edges from the store
 * (deleting or spoiling an object in the bucket) or letting a region or tenant
 * layer expire (its own publisher sets when) must not turn what the policy
 * held refuses into a fail-open tier's allow. A deny only the fail mode gives
 * is the infrastructure's, with its reasons alone, so no breaker counts it.
 */
export async function evaluate(engine: DecisionEngine, resolution: Resolution, inputJson: string, fallback: FallbackParams, now: number, runtime?: EdgeRuntimeInfo): Promise<EngineResult> {
  if (resolution.unusable) {
    const { code, message } = resolution.unusable;
    const failing = failModeDecision(fallback, "store", code, message, code);
    const held = await engine.decide(resolution.policy, inputJson, fallback, now, runtime);
    if (failing.decision === "deny" && held.decision.decision !== "deny") return { decision: failing, path: "fail_mode", eval_us: held.eval_us };
    const composed = composeLayers([{ scope: "held", result: held.decision }, { scope: "store", result: failing }], fallback);
    return { ...held, decision: { ...composed, fail_mode_applied: held.decision.fail_mode_applied ?? failing.fail_mode_applied } };
  }
  return engine.decide(resolution.policy, inputJson, fallback, now, runtime);
}

/**
 * A spawn the edge could not give a credential to does not happen: the child
 * could never prove who it is. Nor does one the policy did not judge (a fail
 * mode decided it): the credential would carry whatever role and scopes the
 * body asked for, unchecked.
 */
function withoutUnmintableSpawn(env: Env, input: DecisionInput, decision: ComposedDecision): ComposedDecision {
  if (input.action.type !== "spawn_agent" || decision.decision === "deny") return decision;
  let reason: { rule: string; message: string } | undefined;
  const childId = subAgentId(input.agent.id, input.action.spawn?.agent_id ?? "");
  if (decision.fail_mode_applied) reason = { rule: "spawn_not_evaluated", message: `no policy judged this spawn (${decision.fail_mode_applied.code}), so no credential is given for it` };
  else if (childId.length > MAX_SUB_AGENT_ID_LENGTH) reason = { rule: "sub_agent_id_too_long", message: `the sub-agent's id (its parent's id, "!", its name) would be ${childId.length} characters, over ${MAX_SUB_AGENT_ID_LENGTH}` };
  else if (!canDelegate(env)) reason = { rule: "delegation_unavailable", message: "this edge has no identity signing key (IDENTITY_KEY_ID, IDENTITY_SIGNING_KEY), so it cannot give a sub-agent a credential" };
  else if (delegationTtl(decision) === 0) reason = { rule: "delegation_disabled", message: "policy gives sub-agent credentials no lifetime (delegation.credential_ttl_s is 0)" };
  return reason ? { ...decision, decision: "deny", reasons: [...decision.reasons, reason] } : decision;
}

/** The lifetime policy gives a sub-agent's credential, 0 included; 900 s only where it names none. */
function delegationTtl(decision: ComposedDecision): number {
  const named = (decision as { delegation_ttl_s?: unknown }).delegation_ttl_s;
  return typeof named === "number" && Number.isFinite(named) && named >= 0 ? named : 900;
}

async function delegatedCredential(env: Env, input: DecisionInput, identity: Identity, decision: ComposedDecision, now: number): Promise<DelegatedCredential | undefined> {
  const spawn = input.action.spawn;
  if (input.action.type !== "spawn_agent" || decision.decision !== "allow" || !spawn) return undefined;
  return mintDelegation(env, identity, { agent: subAgentId(identity.agent, spawn.agent_id), role: spawn.role, scopes: spawn.scopes ?? [] }, input.session.id, now, delegationTtl(decision));
}

export async function runDecision(env: Env, ctx: Background, request: DecisionRequest): Promise<DecisionResponse> {
  if ((env.SESSION_STATE as string) === "off") return makeDecision(env, ctx, request);
  // Refused before anything is evaluated: an agent cannot queue its own session's commits past their deadline.
  const key = sessionKey(request.identity.tenant, request.identity.agent, request.body.session.id);
  if (!enterSession(key)) {
    const message = `this session already has ${MAX_IN_FLIGHT_PER_SESSION} decisions under way at this edge; send this one again shortly`;
    throw new ApiError(429, "session_busy", message, undefined, { "retry-after": "1" });
  }
  try {
    return await makeDecision(env, ctx, request);
  } finally {
    leaveSession(key);
  }
}

async function makeDecision(env: Env, ctx: Background, request: DecisionRequest): Promise<DecisionResponse> {
  const now = Date.now();
  const { body, identity } = request;
  assertConsistent(body, identity);
  const decisionId = newDecisionId(now);
  const governing = await governingPolicy(env, ctx, identity.tenant, request.location, now);
  const { resolution, region } = governing;
  const tier = effectiveTier(resolution.policy.data, body.action, body.risk_tier, identity.registration.risk_tier);
  let input = withSessionClasses(policyInput(body, identity, tier, region, request.colo), []);
  let inputJson = inputJsonOf(input);
  const tool = typeof input.action.tool === "string" ? input.action.tool : undefined;
  const fallback = fallbackParams(resolution.policy.data, tier.tier, identity.role, tool);
  const mode = modeAcross(governing.rolloutChains, tier.tier, resolution.policy.data);
  const runtime = { location: request.colo, region: region.region };
  // The agent's object is asked while the policy evaluates; an agent that has read something this
  // evaluation did not see (rarely) is evaluated again with it.
  const asked = askAgentTaint(env, input, resolution.policy.data, now);
  let result = await evaluate(engineFor(env), resolution, inputJson, fallback, now, runtime);
  const taint = await asked;
  const unseen = unseenClasses(input, taint);
  if (unseen.length > 0) {
    input = withSessionClasses(input, unseen);
    inputJson = inputJsonOf(input);
    result = await evaluate(engineFor(env), resolution, inputJson, fallback, now, runtime);
  }
  const taintUnknown = taint && !taint.known ? taint.message : undefined;
  result.decision = refusedWithoutAgentTaint(withoutUnmintableSpawn(env, input, result.decision), taintUnknown);
  let session: SessionReport | undefined;
  let undoSession: (() => Promise<void>) | undefined;
  if ((env.SESSION_STATE as string) !== "off") {
    const timeout = Number(env.SESSION_TIMEOUT_MS) || 250;
    const options = {
      idempotencyKey: request.idempotencyKey,
      observe: mode.mode === "observe",
      approvalByAction: request.approvalByAction,
      reachesOutside: () => reachesOutside(resolution.policy.data, toolsOf(input)),
    };
    for (let round = 1; ; round++) {
      const merged = await applySessionState(env.SESSIONS, timeout, input, result.decision, fallback, decisionId, now, options);
      if (!("staleClasses" in merged)) {
        result.decision = merged.decision;
        session = merged.session;
        undoSession = merged.undo;
        break;
      }
      // The session holds data classes this evaluation did not see: decide again with them.
      input = withSessionClasses(input, merged.staleClasses);
      inputJson = inputJsonOf(input);
      if (round >= MAX_TAINT_ROUNDS) {
        const reason = { rule: "session_state_unavailable", message: `the session's data classes kept changing during the decision (${round} evaluations); refused` };
        result = { ...result, decision: { ...result.decision, decision: "deny", reasons: [...result.decision.reasons, reason] } };
        session = { status: "unavailable", fault: "taint_changing", retried: true, reasons: [reason] };
        break;
      }
      result = await evaluate(engineFor(env), resolution, inputJson, fallback, now, runtime);
      result.decision = refusedWithoutAgentTaint(withoutUnmintableSpawn(env, input, result.decision), taintUnknown);
    }
  }
  const delegated = session?.replayed ? undefined : await delegatedCredential(env, input, identity, result.decision, now);
  const response = respond({ decisionId, governing, tier, result, session, mode, identity, colo: request.colo, delegated });
  const receipt = receiptSigner(env, input, resolution.policy.data, now);
  await receipt.sign(response, reuseSeconds(response, result.decision, session), replayedDecision(session));
  // Off the decision's path: the alert joins this isolate's batch, sent in the background.
  if (result.decision.decision === "deny" && tier.tier === "critical") queueAlert(env, criticalDenyAlert(identity, decisionId, input, result.decision.reasons), (work) => ctx.waitUntil(work));
  const shadowed = [...new Set(governing.rolloutChains.flat())].filter((document) => document.shadow !== null);
  if (shadowed.length > 0 && !resolution.unusable) {
    ctx.waitUntil(
      runShadows({
        documents: shadowed,
        bucket: env.BUNDLES,
        trust: trustStoreFrom(env.TRUST_STORE),
        engine: engineFor(env),
        active: resolution.policy,
        activeDecision: result.decision,
        inputJson,
        fallback,
        decisionId,
        requestTenant: identity.tenant,
        tool: (input.action as { tool?: string }).tool ?? null,
        nowMs: now,
      })
        .then((diffs) => enqueueAudit(env, diffs, (work) => ctx.waitUntil(work)))
        .catch((error) => console.error(`shadow evaluation failed: ${(error as Error).message}`)),
    );
  }
  if ((env.AUDIT as string) !== "off") return audited(env, ctx, response, input, now, receipt, undoSession, result.print);
  return response;
}

/**
 * How long the agent may reuse this decision: the policy's `ttl_s`, only for
 * an allow that is exactly what the policy and the session said, on a
 * current policy. A degraded, observed or session-changed answer is never
 * reused.
 */
function reuseSeconds(response: DecisionResponse, decision: ComposedDecision, session: SessionReport | undefined): number {
  const ttl = decision.ttl_s;
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) return 0;
  const degraded = response.stale === true || response.fail_mode_applied !== undefined || response.mode === "observe" || (session !== undefined && session.status !== "ok");
  return response.decision === "allow" && decision.decision === "allow" && !degraded ? ttl : 0;
}

interface ReceiptSigner {
  /**
   * Puts the signed receipt of what `response` tells the agent on it (nothing,
   * if this edge signs none). For a replay, `original` is the decision it
   * repeats: the receipt is that decision's (its id as `jti`, its time as
   * `iat`), so a replay never yields a new proof nor a later expiry, and a
   * tool server that serves each `jti` once serves the action once.
   */
  sign(response: DecisionResponse, ttlS: number, original?: { id: string; atMs: number }): Promise<void>;
}

/** The decision a replayed answer repeats, when the session's object said which and when. */
function replayedDecision(session: SessionReport | undefined): { id: string; atMs: number } | undefined {
  const atMs = session?.replay_of_at === undefined ? Number.NaN : Date.parse(session.replay_of_at);
  return session?.replayed && session.replay_of !== undefined && Number.isFinite(atMs) ? { id: session.replay_of, atMs } : undefined;
}

function receiptSigner(env: Env, input: DecisionInput, layers: unknown[], now: number): ReceiptSigner {
  const proofWindowS = receiptParams(layers).proof_window_s;
  return {
    async sign(response, ttlS, original) {
      const answer = response as unknown as AnsweredDecision;
      const receipt = await signReceipt(
        env,
        {
          decision_id: original?.id ?? response.decision_id,
          tenant: input.tenant,
          agent: input.agent.id,
          session: input.session.id,
          action: input.action,
          decision: response.decision,
          tier: answer.risk.tier,
          mode: answer.mode,
          policy: answer.policy as { key: string; layers: LayerRef[] },
          ttl_s: ttlS,
          proof_window_s: proofWindowS,
        },
        original?.atMs ?? now,
      );
      if (receipt) response.receipt = receipt;
    },
  };
}

/**
 * Leaves the decision's record. Normally the record is only promised here
 * and built when its batch leaves, so the agent waits for none of it. When
 * the policy demands an acknowledged record it is appended before the
 * answer, and if none can be written the agent is denied (the record of that
 * denial still goes to the Queue): an action that must be on the record does
 * not proceed off it, and leaves no trace in the session's state either
 * (its commit is undone: no debit, no approval used, no breaker count).
 */
async function audited(
  env: Env,
  ctx: Background,
  response: DecisionResponse,
  input: DecisionInput,
  now: number,
  receipt: ReceiptSigner,
  undoSession?: () => Promise<void>,
  print?: Record<string, string[]>,
): Promise<DecisionResponse> {
  const background = (work: Promise<unknown>) => ctx.waitUntil(work);
  const answer = response as unknown as AnsweredDecision;
  if (!wantsSyncAudit(answer.obligations)) {
    enqueueAudit(env, [() => buildAuditRecord(answer, input, now, print)], background);
    return response;
  }
  try {
    await appendAcknowledged(env, await buildAuditRecord(answer, input, now, print));
    return { ...response, audit: "acknowledged" };
  } catch (error) {
    const message = `the policy requires an acknowledged audit record and none could be written (${(error as Error).message})`;
    // Undone before the answer: a retry must find the session as if this decision had not been made.
    await undoSession?.().catch((undoError: Error) => console.error(`session commit of ${response.decision_id} could not be undone: ${undoError.message}`));
    const { observed: _observed, delegated_credential: _credential, receipt: _receipt, ...answered } = response;
    const denied: DecisionResponse = { ...answered, decision: "deny", reasons: [{ rule: "audit_unavailable", message }], audit: "unavailable" };
    await receipt.sign(denied, 0);
    enqueueAudit(env, [() => buildAuditRecord(denied as unknown as AnsweredDecision, input, now, print)], background);
    return denied;
  }
}

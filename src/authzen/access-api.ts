/**
 * @module access-api
 * The AuthZEN Authorization API 1.0 evaluation endpoints (§6, §7, with the
 * HTTPS binding of §10.1), so that any AuthZEN enforcement point can use
 * Tollgate as its decision point:
 *
 *   POST /access/v1/evaluation    one evaluation → {decision, context}
 *   POST /access/v1/evaluations   a batch with defaults and options.evaluations_semantic
 *                                 → {evaluations: [{decision, context}, …]}
 *
 * The caller authenticates as on /v1/decide (agentAuth): the subject must
 * be that agent. Each evaluation is mapped onto a decision body
 * (input-mapping.ts) and decided by the same pipeline as /v1/decide, so
 * budgets, breakers, approvals and the audit log apply to every one.
 *
 * Retries: an `Idempotency-Key` on a single evaluation is the decide API's,
 * scoped to the session. On a batch, item i is committed under a key
 * derived from the header and i, so a retried batch replays each item that
 * was committed (no second debit, the first decision id in `replay_of`) and
 * decides only those that were not; an item that changed since is that
 * item's 409 error.
 */
import { Hono, type Context } from "hono";
import { sha256Hex } from "../bundles/canonical";
import { runDecision, type DecisionRequest } from "../decision/pipeline";
import { locationOf } from "../decision/region";
import { ApiError } from "../errors";
import type { Identity } from "../identity/types";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";
import { jsonBody } from "../middleware/json-body";
import { idempotencyKeyOf, MAX_DECISION_BODY_BYTES } from "../routes/decide";
import { readJson, validated } from "../routes/request-body";
import type { DecisionBody } from "../schema/decision-input";
import { withDefaults } from "./batch-defaults";
import { authzenDecision, failedEvaluation, type AuthzenDecision } from "./decision-context";
import { authzenErrorResponse } from "./error-response";
import { runEvaluations } from "./evaluation-semantics";
import { assertSubjectIsCaller, decisionBodyOf } from "./input-mapping";
import { echoRequestId } from "./request-id";
import { evaluationsRequestSchema } from "./request-schema";

/** A batch carries up to 32 evaluations; each one, with its defaults applied, is held to a single decision's bound. */
export const MAX_EVALUATIONS_BODY_BYTES = 256 * 1024;

type AgentContext = Context<AgentEnv>;

/** What every evaluation of one request shares. */
function requestOf(c: AgentContext): Omit<DecisionRequest, "body" | "idempotencyKey"> {
  return {
    identity: identityOf(c),
    location: locationOf(c.req.raw),
    colo: (c.req.raw.cf?.colo as string | undefined) ?? c.env.EDGE_LOCATION,
  };
}

const originOf = (c: AgentContext) => new URL(c.req.url).origin;

async function decideOne(c: AgentContext, body: DecisionBody, idempotencyKey: string | undefined): Promise<AuthzenDecision> {
  const response = await runDecision(c.env, c.executionCtx, { ...requestOf(c), body, idempotencyKey });
  return authzenDecision(response, originOf(c));
}

/** A single evaluation, on either endpoint: whatever goes wrong is the request's error. */
async function singleEvaluation(c: AgentContext, evaluation: unknown): Promise<Response> {
  const body = decisionBodyOf(evaluation, identityOf(c));
  const answer = await decideOne(c, body, idempotencyKeyOf(c.req.header("idempotency-key")));
  c.header("x-tollgate-decision-id", answer.context?.decision_id as string);
  return c.json(answer);
}

type Item = { body: DecisionBody } | { failed: AuthzenDecision };

/**
 * An item's own fault (a missing or malformed field, an item larger than a
 * single decision may be) is that item's closed decision (§7.2.1); a
 * subject that is not the caller refuses the whole batch before anything is
 * evaluated.
 */
function itemOf(item: Record<string, unknown>, identity: Identity): Item {
  assertSubjectIsCaller(item, identity);
  const size = new TextEncoder().encode(JSON.stringify(item)).byteLength;
  if (size > MAX_DECISION_BODY_BYTES) {
    return { failed: failedEvaluation(413, "payload_too_large", `this evaluation, with the request's defaults, is ${size} bytes; one evaluation is at most ${MAX_DECISION_BODY_BYTES}`) };
  }
  try {
    return { body: decisionBodyOf(item, identity) };
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) return { failed: failedEvaluation(error.status, error.code, error.message, error.path) };
    throw error;
  }
}

/**
 * Item `index`'s key, derived so that it is never another item's, nor a key
 * a caller sends to /v1/decide: it has spaces, which no Idempotency-Key may.
 */
const itemKey = (base: string, index: number) => `authzen batch ${base} ${index}`;

async function decideItem(c: AgentContext, item: Item, index: number, keyBase: string | undefined): Promise<AuthzenDecision> {
  if ("failed" in item) return item.failed;
  try {
    return await decideOne(c, item.body, keyBase === undefined ? undefined : itemKey(keyBase, index));
  } catch (error) {
    if (error instanceof ApiError) return failedEvaluation(error.status, error.code, error.message, error.path);
    // Decisions default to closed (§7.2.1): the other items still get their answers.
    console.error(`authzen evaluation ${index} failed`, error);
    return failedEvaluation(500, "internal", "internal error");
  }
}

export const accessRoute = new Hono<AgentEnv>()
  .use("*", echoRequestId())
  .post("/evaluation", agentAuth(), jsonBody(MAX_DECISION_BODY_BYTES), async (c) => singleEvaluation(c, await readJson(c)))
  .post("/evaluations", agentAuth(), jsonBody(MAX_EVALUATIONS_BODY_BYTES), async (c) => {
    const raw = await readJson(c);
    const request = validated(evaluationsRequestSchema, raw);
    const items = request.evaluations ?? [];
    // §7.1: without evaluations, or with none, the request is a single evaluation and answered as one.
    if (items.length === 0) return singleEvaluation(c, raw);
    const key = idempotencyKeyOf(c.req.header("idempotency-key"));
    const keyBase = key === undefined ? undefined : await sha256Hex(key);
    const identity = identityOf(c);
    const prepared = items.map((item) => itemOf(withDefaults(request, item), identity));
    const evaluations = await runEvaluations(prepared, request.options?.evaluations_semantic ?? "execute_all", (item, index) => decideItem(c, item, index, keyBase));
    return c.json({ evaluations });
  })
  .onError(authzenErrorResponse);

/**
 * @module input-mapping
 * One AuthZEN evaluation (subject, action, resource, context) mapped onto
 * the body of a Tollgate decision, the same body `POST /v1/decide` takes,
 * so that it goes through the same checks and the same pipeline. The table
 * is in the README ("AuthZEN"):
 *
 *   subject  {type: "agent", id, properties: {tenant, role, scopes, delegation_depth}}
 *            → tenant, agent.{id, role, scopes, delegation_depth}: claims, checked
 *              against the credential exactly as /v1/decide checks a body's
 *   action   {name, properties: {args, data_classes, estimate, …}}
 *   resource {type, id, properties}
 *            → action: `tool_call`/`tools/call` on {type: "tool", id: <tool>},
 *              `spawn_agent` on {type: "agent", id: <child>, properties: {role, scopes}},
 *              `plan` on {type: "plan", properties: {steps}}, and any other name
 *              as a call of the tool `<resource.type>.<action.name>`
 *   context  {session: {id, usage, parent_session_id}, risk_tier, approval_id, …}
 *            → session, risk_tier, approval_id
 *
 * The resource, and every action property the mapping does not consume,
 * stay in the action, so approvals and idempotency keys are bound to them
 * too; the subject and the context as sent reach the policy as
 * `input.authzen`. A shape Tollgate cannot judge is 400 naming the AuthZEN
 * field at fault; a subject other than the authenticated agent is 403
 * `identity_mismatch`, as on /v1/decide.
 */
import { z } from "zod";
import { assertConsistent } from "../decision/policy-input";
import { ApiError } from "../errors";
import type { Identity } from "../identity/types";
import { validated } from "../routes/request-body";
import { decisionBodySchema, type DecisionBody } from "../schema/decision-input";
import { evaluationSchema, subjectSchema, type Evaluation } from "./request-schema";

/** Tollgate decides for agents: the subject names the one its credential authenticates. */
export const SUBJECT_TYPE = "agent";

const subjectProperties = z.looseObject({
  tenant: z.string().optional(),
  role: z.string().optional(),
  scopes: z.array(z.string()).optional(),
  delegation_depth: z.number().int().nonnegative().optional(),
});

const contextFields = z.looseObject({
  session: z.looseObject({ id: z.string(), usage: z.unknown().optional(), parent_session_id: z.string().optional() }, "Tollgate judges each action within an agent session: context.session.id names it"),
  risk_tier: z.string().optional(),
  approval_id: z.string().optional(),
});

/** Where a field of the decision body came from in the evaluation, longest prefix first. */
const ORIGIN_OF: Array<[string, string]> = [
  ["agent.delegation_depth", "subject.properties.delegation_depth"],
  ["agent.scopes", "subject.properties.scopes"],
  ["agent.role", "subject.properties.role"],
  ["agent.id", "subject.id"],
  ["tenant", "subject.properties.tenant"],
  ["session", "context.session"],
  ["risk_tier", "context.risk_tier"],
  ["approval_id", "context.approval_id"],
  ["action.spawn.agent_id", "resource.id"],
  ["action.spawn", "resource.properties"],
  ["action.steps", "resource.properties.steps"],
  ["action.tool", "resource.id"],
  ["action.args", "action.properties.args"],
  ["action.data_classes", "action.properties.data_classes"],
  ["action.estimate", "action.properties.estimate"],
];

function originOf(path: string): string {
  for (const [field, origin] of ORIGIN_OF) {
    if (path === field || path.startsWith(`${field}.`)) return origin + path.slice(field.length);
  }
  return path;
}

const invalid = (path: string, message: string) => new ApiError(400, "invalid_input", `${path}: ${message}`, path);

/** Runs a schema over one part of the evaluation, reporting errors at their place in it. */
function checked<T>(schema: z.ZodType<T>, value: unknown, at: string): T {
  try {
    return validated(schema, value);
  } catch (error) {
    if (!(error instanceof ApiError) || error.path === undefined) throw invalid(at, (error as Error).message);
    const path = `${at}.${error.path}`;
    throw invalid(path, error.message.slice(error.path.length + 2));
  }
}

function withoutKeys(record: Record<string, unknown> | null | undefined, keys: string[]): Record<string, unknown> | undefined {
  if (!record) return undefined;
  const rest = Object.fromEntries(Object.entries(record).filter(([key]) => !keys.includes(key)));
  return Object.keys(rest).length > 0 ? rest : undefined;
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

/** The Tollgate action an AuthZEN action on a resource is. */
function actionOf({ action, resource }: Evaluation): Record<string, unknown> {
  const props = action.properties ?? {};
  const resourceProps = resource.properties ?? {};
  const common = (consumed: string[]) =>
    defined({
      args: props.args,
      data_classes: props.data_classes,
      estimate: props.estimate,
      properties: withoutKeys(action.properties, ["args", "data_classes", "estimate"]),
      resource: defined({ type: resource.type, id: resource.id, properties: withoutKeys(resource.properties, consumed) }),
    });
  const expectType = (type: string, what: string) => {
    if (resource.type !== type) throw invalid("resource.type", `the action ${action.name} acts on a resource of type "${type}" whose id is ${what}`);
  };
  switch (action.name) {
    case "tool_call":
    case "tools/call":
      expectType("tool", "the tool's name");
      return { type: "tool_call", tool: resource.id, ...common([]) };
    case "spawn_agent":
      expectType("agent", "the new agent's id");
      return { type: "spawn_agent", spawn: defined({ agent_id: resource.id, role: resourceProps.role, scopes: resourceProps.scopes }), ...common(["role", "scopes"]) };
    case "plan":
      expectType("plan", "the plan's id");
      return { type: "plan", steps: resourceProps.steps, ...common(["steps"]) };
    default:
      // An enforcement point's own vocabulary ("can_read" on a "document"): the tool `document.can_read`.
      return { type: "tool_call", tool: `${resource.type}.${action.name}`, ...common([]) };
  }
}

/** The tenant and agent a subject claims, once they are found to be the authenticated agent's (403 otherwise). */
function callerOf(subject: Evaluation["subject"], identity: Identity): Pick<DecisionBody, "tenant" | "agent"> {
  if (subject.type !== SUBJECT_TYPE) {
    throw new ApiError(403, "identity_mismatch", `the subject is a ${subject.type}; Tollgate decides for the authenticated agent, a subject of type "${SUBJECT_TYPE}" with id ${identity.agent}`);
  }
  // Whose the subject is comes before how well its claims are written: another agent's, however malformed, is 403.
  const namedTenant = subject.properties?.tenant;
  assertConsistent({ tenant: typeof namedTenant === "string" ? namedTenant : undefined, agent: { id: subject.id }, session: {} } as DecisionBody, identity);
  const claims = checked(subjectProperties, subject.properties ?? {}, "subject.properties");
  const agent = defined({ id: subject.id, role: claims.role, scopes: claims.scopes, delegation_depth: claims.delegation_depth }) as DecisionBody["agent"];
  assertConsistent({ tenant: claims.tenant, agent, session: {} } as DecisionBody, identity);
  return { tenant: claims.tenant, agent };
}

/**
 * Refuses (403) an evaluation whose subject is well formed and is not the
 * authenticated agent, whatever else about it is wrong: a batch is refused
 * whole when any item names another agent, before anything is evaluated,
 * even an item that is also malformed or too large to be decided. A
 * subject too malformed to name anyone is left to that item's own 400.
 */
export function assertSubjectIsCaller(value: Record<string, unknown>, identity: Identity): void {
  const subject = subjectSchema.safeParse(value.subject);
  if (!subject.success) return;
  try {
    callerOf(subject.data, identity);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 403) return;
    throw error;
  }
}

/**
 * The decision body an evaluation asks for, checked against the caller's
 * credential. Throws 400 for a shape Tollgate cannot judge and 403
 * `identity_mismatch` for a subject that is not the authenticated agent.
 */
export function decisionBodyOf(value: unknown, identity: Identity): DecisionBody {
  const evaluation = validated(evaluationSchema, value);
  const { tenant, agent } = callerOf(evaluation.subject, identity);
  const context = checked(contextFields, evaluation.context ?? {}, "context");
  const body = defined({
    tenant,
    agent,
    session: context.session,
    risk_tier: context.risk_tier,
    approval_id: context.approval_id,
    action: actionOf(evaluation),
    authzen: defined({ subject: evaluation.subject, context: evaluation.context ?? undefined }),
  });
  let decision: DecisionBody;
  try {
    decision = validated(decisionBodySchema, body);
  } catch (error) {
    if (!(error instanceof ApiError) || error.path === undefined) throw error;
    throw invalid(originOf(error.path), error.message.slice(error.path.length + 2));
  }
  assertConsistent(decision, identity);
  return decision;
}

/**
 * @module request-schema
 * The shapes of the AuthZEN Authorization API 1.0 requests, as the spec
 * defines them and no stricter: Subject, Resource and Action (§5.1-§5.3),
 * Context (§5.4), the Access Evaluation request (§6.1) and the Access
 * Evaluations request with its defaults and options (§7.1). Unknown fields
 * are ignored, as §10.1.1 requires of receivers; what Tollgate needs beyond
 * the spec (an agent as the subject, a session in the context) is checked
 * when an evaluation is mapped onto a decision (input-mapping.ts).
 */
import { z } from "zod";

/** §5.1.1, §5.2.1, §5.3.1: properties are an object of any values. */
const properties = z.record(z.string(), z.unknown());

/**
 * Optional members may be sent as null: §11.5 asks senders to omit them
 * instead, and a receiver that reads null as absent loses nothing.
 */
const optionalObject = properties.nullish();

export const subjectSchema = z.looseObject({ type: z.string(), id: z.string(), properties: optionalObject });
export const resourceSchema = z.looseObject({ type: z.string(), id: z.string(), properties: optionalObject });
export const actionSchema = z.looseObject({ name: z.string(), properties: optionalObject });

/** §6.1: subject, action and resource are required; context is optional. */
export const evaluationSchema = z.looseObject({
  subject: subjectSchema,
  action: actionSchema,
  resource: resourceSchema,
  context: optionalObject,
});

export type Evaluation = z.infer<typeof evaluationSchema>;

/** §7.1.2.1. `execute_all` is the default. */
export const EVALUATIONS_SEMANTICS = ["execute_all", "deny_on_first_deny", "permit_on_first_permit"] as const;
export type EvaluationsSemantic = (typeof EVALUATIONS_SEMANTICS)[number];

/**
 * Each evaluation is a whole decision (a policy evaluation, a round trip to
 * its session's object, an audit record), made one after another: the
 * bound keeps the work one request can ask for, and its latency, in the
 * range of one agent step.
 */
export const MAX_EVALUATIONS = 32;

/**
 * §7.1: the top-level subject, action, resource and context are defaults
 * for every item of `evaluations`, and may be left out when every item
 * carries its own. Items are checked one by one after the defaults are
 * applied (batch-defaults.ts), so that one bad item is that item's error
 * and not the whole request's.
 */
export const evaluationsRequestSchema = z.looseObject({
  subject: subjectSchema.nullish(),
  action: actionSchema.nullish(),
  resource: resourceSchema.nullish(),
  context: optionalObject,
  evaluations: z.array(properties).max(MAX_EVALUATIONS).nullish(),
  // §7.1.2: options is an object; an option Tollgate does not know is ignored.
  options: z.looseObject({ evaluations_semantic: z.enum(EVALUATIONS_SEMANTICS).nullish() }).nullish(),
});

export type EvaluationsRequest = z.infer<typeof evaluationsRequestSchema>;

/**
 * @module decision-input
 * The schema of `POST /v1/decide`. It validates without transforming.
 * Objects are loose because policies may read fields the edge does not know
 * about; the body's size and nesting are bounded before this runs
 * (json-limits.ts).
 */
import { z } from "zod";
import { APPROVAL_ID_PATTERN } from "./approval-id";
import { AGENT_ID_MESSAGE, AGENT_ID_PATTERN } from "../identity/registration";
import type { Identity } from "../identity/types";
import type { RiskTier } from "../types";
import { RISK_TIERS } from "./risk-tier";
import { TENANT_ID_MESSAGE, TENANT_PATTERN } from "./tenant-id";
import { dataClassSchema } from "./data-class";

const id = z.string().min(1).max(256);
const nonNegative = z.number().finite().nonnegative();
const scopes = z.array(z.string().min(1).max(256)).max(256);

const usage = z.looseObject({
  tokens: nonNegative.optional(),
  api_calls: nonNegative.optional(),
  cost_usd: nonNegative.optional(),
  wall_clock_s: nonNegative.optional(),
});

/** The most steps a plan may have to reach the policy. */
export const MAX_PLAN_STEPS = 100;

const action = z
  .looseObject({
    type: z.enum(["tool_call", "spawn_agent", "plan"]),
    tool: z.string().min(1).max(256).optional(),
    args: z.record(z.string(), z.unknown()).optional(),
    data_classes: z.array(dataClassSchema).max(64).optional(),
    estimate: z.looseObject({ tokens: nonNegative.optional(), cost_usd: nonNegative.optional() }).optional(),
    // The child's name; its id is the parent's id, "!" and this name (identity/registration.ts, subAgentId).
    spawn: z.looseObject({ agent_id: z.string().regex(AGENT_ID_PATTERN, `a spawned agent's name: ${AGENT_ID_MESSAGE}`), role: id, scopes: scopes.optional() }).optional(),
    // Five times the global policy's own maximum (plans.max_steps, 20, which layers may only lower).
    // Evaluating a plan costs more than linearly in its steps inside OPA's wasm (100 hostile steps take
    // about 4 ms, 1,000 about 200 ms), so a longer one could only run a policy out of time.
    steps: z
      .array(z.looseObject({ tool: z.string().min(1).max(256), args: z.record(z.string(), z.unknown()).optional() }))
      .max(MAX_PLAN_STEPS)
      .optional(),
  })
  .superRefine((value, ctx) => {
    if (value.type === "tool_call" && value.tool === undefined) {
      ctx.addIssue({ code: "custom", path: ["tool"], message: "a tool_call names its tool" });
    }
    if (value.type === "spawn_agent" && value.spawn === undefined) {
      ctx.addIssue({ code: "custom", path: ["spawn"], message: "a spawn_agent action describes the agent to spawn" });
    }
    if (value.type === "plan" && value.steps === undefined) {
      ctx.addIssue({ code: "custom", path: ["steps"], message: "a plan lists its steps" });
    }
    // The policy and the audit log take action.mcp for what the MCP gateway found a request to be: the edge sets it, never a caller.
    if (Object.hasOwn(value, "mcp")) {
      ctx.addIssue({ code: "custom", path: ["mcp"], message: "action.mcp is what the MCP gateway tells the policy of a request it decided; a caller may not set it" });
    }
  });

/**
 * What a caller sends. Who it is (tenant, agent, role, scopes, delegation
 * depth) comes from its credential: the body may repeat it, and the edge
 * refuses a body that contradicts it. `risk_tier` is what the caller
 * declares; the effective tier may be higher.
 */
export const decisionBodySchema = z.looseObject({
  risk_tier: z.enum(RISK_TIERS).optional(),
  tenant: z.string().regex(TENANT_PATTERN, TENANT_ID_MESSAGE).optional(),
  agent: z
    .looseObject({
      id: id.optional(),
      role: id.optional(),
      scopes: scopes.optional(),
      delegation_depth: z.number().int().nonnegative().max(64).optional(),
    })
    .optional(),
  session: z.looseObject({
    id,
    usage: usage.optional(),
    parent_session_id: id.optional(),
    /** Classes of data the session has touched, as the caller knows them; the session object's record is added to them. */
    data_classes: z.array(dataClassSchema).max(64).optional(),
  }),
  action,
  /** Re-submitting an action that needed approval: the approval granted for exactly this action. */
  approval_id: z.string().regex(APPROVAL_ID_PATTERN, "approval ids look like apr_<64 hex digits>_<24 hex digits>").optional(),
});

export type DecisionBody = z.infer<typeof decisionBodySchema>;

/** What the policy sees: the body with the edge's facts in place (decision/policy-input.ts). */
export type DecisionInput = {
  [extra: string]: unknown;
  session: DecisionBody["session"];
  action: DecisionBody["action"];
  approval_id?: string;
  tenant: string;
  risk_tier: RiskTier;
  agent: NonNullable<DecisionBody["agent"]> & { id: string; role: string; scopes: string[]; delegation_depth: number };
  identity: Identity;
  edge: { region: string; region_source: string; located_region?: string; location: string };
};

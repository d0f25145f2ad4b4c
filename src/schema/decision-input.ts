/**
 * @module decision-input
 * The schema of `POST /v1/decide`. It validates without transforming: the
 * policy sees the request body exactly as sent, so `opa eval` on the same
 * JSON gives the same answer. Objects are loose because policies may read
 * fields the edge does not know about.
 */
import { z } from "zod";
import { APPROVAL_ID_PATTERN } from "../session/approvals";
import { TENANT_ID_MESSAGE, TENANT_PATTERN } from "./tenant-id";

const id = z.string().min(1).max(256);
const nonNegative = z.number().finite().nonnegative();
const scopes = z.array(z.string().min(1).max(256)).max(256);

export const RISK_TIERS = ["low", "medium", "high", "critical"] as const;

const usage = z.looseObject({
  tokens: nonNegative.optional(),
  api_calls: nonNegative.optional(),
  cost_usd: nonNegative.optional(),
  wall_clock_s: nonNegative.optional(),
});

const action = z
  .looseObject({
    type: z.enum(["tool_call", "spawn_agent", "plan"]),
    tool: z.string().min(1).max(256).optional(),
    args: z.record(z.string(), z.unknown()).optional(),
    data_classes: z.array(z.string().min(1).max(64)).max(64).optional(),
    estimate: z.looseObject({ tokens: nonNegative.optional(), cost_usd: nonNegative.optional() }).optional(),
    spawn: z.looseObject({ agent_id: id, role: id, scopes: scopes.optional() }).optional(),
    steps: z
      .array(z.looseObject({ tool: z.string().min(1).max(256), args: z.record(z.string(), z.unknown()).optional() }))
      .max(1000)
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
  });

export const decisionInputSchema = z.looseObject({
  risk_tier: z.enum(RISK_TIERS),
  tenant: z.string().regex(TENANT_PATTERN, TENANT_ID_MESSAGE),
  agent: z.looseObject({
    id,
    role: id,
    scopes: scopes.optional(),
    delegation_depth: z.number().int().nonnegative().max(64).optional(),
  }),
  session: z.looseObject({ id, usage: usage.optional(), parent_session_id: id.optional() }),
  action,
  /** Re-submitting an action that needed approval: the approval granted for exactly this action. */
  approval_id: z.string().regex(APPROVAL_ID_PATTERN, "approval ids look like apr_<64 hex digits>_<24 hex digits>").optional(),
});

export type DecisionInput = z.infer<typeof decisionInputSchema>;

/**
 * @module tool-listing
 * Which tools an agent may see listed (MCP `tools/list` through the
 * gateway): the policy is asked once, with a `list_tools` action naming
 * every tool by its Tollgate name, and answers a verdict per tool that does
 * not depend on a call's arguments (policies/global/listing.rego). Layers
 * compose tool by tool, the strictest winning. A listing commits nothing to
 * the session and debits nothing: it is advice to the client, evaluated
 * with the session's data classes as this isolate last saw them (and those
 * the agent's other sessions read, when a listed tool reaches outside);
 * every call is still decided on its own, with the classes the session
 * object holds.
 */
import type { Identity } from "../identity/types";
import { isJsonObject, ownMember } from "../own-members";
import type { DecisionBody } from "../schema/decision-input";
import type { Verdict } from "../types";
import { fallbackParams } from "../engine/fallback-params";
import { effectiveTier } from "./effective-tier";
import { engineFor, evaluate, governingPolicy, withAgentTaint, withSessionClasses, type Background } from "./pipeline";
import { policyInput } from "./policy-input";
import type { RequestLocation } from "./region";

const VERDICTS = new Set<string>(["allow", "require_approval", "deny"]);

/** Each tool's verdict; a tool the policy did not judge (or could not: fail mode) is "deny". */
export async function listTools(
  env: Env,
  ctx: Background,
  identity: Identity,
  sessionId: string,
  tools: string[],
  location: RequestLocation | undefined,
  colo: string,
): Promise<Record<string, Verdict>> {
  const now = Date.now();
  const governing = await governingPolicy(env, ctx, identity.tenant, location, now);
  const { resolution, region } = governing;
  const body = { session: { id: sessionId }, action: { type: "list_tools", tools } } as unknown as DecisionBody;
  const tier = effectiveTier(resolution.policy.data, body.action, undefined, identity.registration.risk_tier);
  // Advice only: when the agent's reads cannot be learnt, each call still is refused on its own.
  const input = await withAgentTaint(env, withSessionClasses(policyInput(body, identity, tier, region, colo), []), resolution.policy.data, now);
  const fallback = fallbackParams(resolution.policy.data, tier.tier, identity.role, undefined);
  const result = await evaluate(engineFor(env), resolution, JSON.stringify(input), fallback, now, { location: colo, region: region.region });
  const listing = (result.decision as { tools?: unknown }).tools;
  const table = isJsonObject(listing) ? listing : {};
  return Object.fromEntries(
    tools.map((tool) => {
      const verdict = ownMember(table, tool);
      return [tool, typeof verdict === "string" && VERDICTS.has(verdict) ? (verdict as Verdict) : "deny"];
    }),
  );
}

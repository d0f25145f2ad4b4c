/**
 * Every scenario goes through the edge over HTTP, as an authenticated agent,
 * and must get exactly what the real OPA decides for the same input. The
 * input OPA sees is rebuilt from the body and the identity the edge reports,
 * with the tier the caller declared: OPA's policy computes the effective
 * tier itself, so the edge's own computation of it (which fixes the fail
 * mode before evaluating) is checked too. Nothing expected is typed by hand.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { policyInput } from "../../src/decision/policy-input";
import type { Identity } from "../../src/identity/types";
import type { DecisionBody } from "../../src/schema/decision-input";
import type { RiskTier } from "../../src/types";
import { opaDecision } from "../fixtures/opa-server";
import { policyPartOf } from "../fixtures/policy-part";
import { agentKey, delegatedCredential, specOf } from "../identity/credentials";

const scenarios = inject("decisionScenarios");

/**
 * The credential for the agent a body names, and the body as that agent
 * sends it: a sub-agent's id is the edge's (its parent's, "!", its name), so
 * a scenario at a delegation depth names the id its credential carries.
 */
async function asSentBy(body: Record<string, unknown>): Promise<{ token: string; body: Record<string, unknown> }> {
  const spec = specOf(body);
  const depth = (body.agent as { delegation_depth?: number } | undefined)?.delegation_depth ?? 0;
  if (depth === 0) return { token: await agentKey(spec), body };
  const delegated = await delegatedCredential(spec, depth);
  return { token: delegated.token, body: { ...body, agent: { ...(body.agent as object), id: delegated.agent } } };
}

async function decide(scenario: Record<string, unknown>): Promise<{ answer: Record<string, any>; body: Record<string, unknown> }> {
  const { token, body } = await asSentBy(scenario);
  const response = await exports.default.fetch("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return { answer: await response.json(), body };
}

describe("the edge decides exactly as OPA does", () => {
  it("covers at least 30 scenarios, with allow, deny and require_approval among them", async () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(30);
  });

  const verdicts = new Set<string>();

  it.each(scenarios.map((s) => [s.name, s] as const))("%s", async (_name, scenario) => {
    const { answer, body: sent } = await decide(scenario.input);
    const body = sent as DecisionBody;
    const declared = { tier: (body.risk_tier ?? "low") as RiskTier, source: "declared" };
    const region = { region: answer.edge.region, source: answer.edge.region_source };
    const expected = await opaDecision(policyInput(body, answer.identity as Identity, declared, region, answer.edge.location));
    verdicts.add(expected.decision as string);

    expect(policyPartOf(answer, expected)).toEqual(expected);
    expect(answer.risk.tier).toBe(expected.risk_tier);
    expect(answer.evaluation).toMatchObject({ path: "sandbox" });
  });

  it("saw every verdict", () => {
    expect(verdicts).toEqual(new Set(["allow", "deny", "require_approval"]));
  });
});

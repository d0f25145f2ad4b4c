/**
 * Every scenario goes through the edge over HTTP and must get exactly the
 * decision `opa eval` computed for the same policy and input (the expected
 * values come from test/setup/10-decision-expectations.ts, during this run).
 */
import { exports } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";

const scenarios = inject("decisionScenarios");

async function decide(input: unknown): Promise<Record<string, unknown>> {
  const response = await exports.default.fetch("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(input),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe("the edge decides exactly as opa eval does", () => {
  it("covers at least 30 scenarios, with allow, deny and require_approval among them", () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(30);
    const verdicts = new Set(scenarios.map((s) => (s.expected as { decision: string }).decision));
    expect(verdicts).toEqual(new Set(["allow", "deny", "require_approval"]));
  });

  it.each(scenarios.map((s) => [s.name, s] as const))("%s", async (_name, scenario) => {
    const body = await decide(scenario.input);
    const expected = scenario.expected as Record<string, unknown>;
    const policyPart = Object.fromEntries(Object.keys(expected).map((key) => [key, body[key]]));
    // The session's Durable Object may add to the policy's answer; it says exactly what it added.
    const session = body.session as { changed?: { from: string }; reasons?: unknown[] } | undefined;
    const added = new Set((session?.reasons ?? []).map((r) => JSON.stringify(r)));
    policyPart.reasons = (body.reasons as unknown[]).filter((r) => !added.has(JSON.stringify(r)));
    policyPart.decision = session?.changed?.from ?? body.decision;
    expect(policyPart).toEqual(expected);
    expect(body.evaluation).toMatchObject({ path: "sandbox" });
  });
});

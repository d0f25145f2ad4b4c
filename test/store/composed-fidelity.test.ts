/**
 * Composed decisions against the real OPA. Each published layer is served
 * by its own `opa run --server` (global, the eu and us regions, the acme and
 * globex tenants, staged as `tollgate build` stages them); for every
 * scenario, in several regions and tenants, each layer's answer comes from
 * OPA and is combined by the composition rule the README states (the most
 * severe verdict, every reason and obligation, the strictest session
 * parameters, the highest tier), and the edge's answer through its sandbox
 * must equal that.
 */
import { beforeAll, describe, expect, inject, it } from "vitest";
import { effectiveTier } from "../../src/decision/effective-tier";
import { fallbackParams } from "../../src/engine/fallback-params";
import type { RiskTier } from "../../src/types";
import { opaDecision } from "../fixtures/opa-server";
import { withIdentity } from "../fixtures/policy-identity";
import { edge, emptyBucket, engine, publish, T0, type Edge } from "./harness";

const scenarios = inject("decisionScenarios");
const SEVERITY: Record<string, number> = { allow: 0, require_approval: 1, deny: 2 };
const TIERS = ["low", "medium", "high", "critical"];
const sortedUnique = (values: unknown[]) => [...new Set(values.map((v) => JSON.stringify(v)))].sort();

type Decision = Record<string, any>;

/** The composition rule, applied to what OPA decided for each layer. */
function composed(answers: Decision[]): Decision {
  const limits: Record<string, number> = {};
  for (const answer of answers) {
    for (const [dimension, value] of Object.entries(answer.budget?.limits ?? {})) limits[dimension] = Math.min(limits[dimension] ?? Infinity, value as number);
  }
  return {
    decision: answers.map((a) => a.decision).reduce((x, y) => (SEVERITY[y] > SEVERITY[x] ? y : x)),
    reasons: sortedUnique(answers.flatMap((a) => a.reasons)),
    obligations: sortedUnique(answers.flatMap((a) => a.obligations)),
    risk_tier: answers.map((a) => a.risk_tier).reduce((x, y) => (TIERS.indexOf(y) > TIERS.indexOf(x) ? y : x)),
    fail_mode: answers.some((a) => a.fail_mode === "closed") ? "closed" : "open",
    limits,
    breaker_threshold: Math.min(...answers.map((a) => a.breaker.threshold)),
    approval_ttl_s: Math.min(...answers.map((a) => a.approval_ttl_s)),
  };
}

function shape(decision: Decision): Decision {
  return {
    decision: decision.decision,
    reasons: sortedUnique(decision.reasons),
    obligations: sortedUnique(decision.obligations),
    risk_tier: decision.risk_tier,
    fail_mode: decision.fail_mode,
    limits: decision.budget?.limits ?? {},
    breaker_threshold: decision.breaker.threshold,
    approval_ttl_s: decision.approval_ttl_s,
  };
}

let edges: Record<string, Edge>;
const seen = { layered: 0, verdicts: new Set<string>() };

beforeAll(async () => {
  await emptyBucket();
  for (const scope of ["global", "region:eu", "region:us", "tenant:acme", "tenant:globex"]) await publish(scope, { version: 1 });
  edges = { eu: edge("eu"), us: edge("us") };
  for (const e of Object.values(edges)) expect(await e.store.refresh(T0)).toBe("activated");
});

const cases = ["eu", "us"].flatMap((region) =>
  ["acme", "globex", "initech"].flatMap((tenant) => scenarios.map((scenario) => [`${region} ${tenant}: ${scenario.name}`, region, tenant, scenario.input] as const)),
);

describe("composed decisions equal OPA's answers for each layer, composed", () => {
  it.each(cases)("%s", async (_name, region, tenant, body) => {
    const { store } = edges[region];
    // A pinned tenant is governed by its pinned region and by the edge's own (governingRegions).
    const pin = store.tenantPin(tenant);
    const resolution = store.resolve(tenant, pin === undefined || pin === region ? [region] : [pin, region], T0);
    const action = body.action as { type?: string; tool?: string };
    const tier = effectiveTier(resolution.policy.data, action, body.risk_tier as RiskTier | undefined, "low").tier;
    const input = withIdentity({ ...body, tenant, risk_tier: tier });
    const fallback = fallbackParams(resolution.policy.data, tier, String((body.agent as { role?: string }).role), action.tool);
    const answer = await engine.decide(resolution.policy, JSON.stringify(input), fallback, T0);
    expect(answer.path).toBe("sandbox");
    const perLayer = await Promise.all(resolution.policy.layers.map((layer) => opaDecision(input, "tollgate/decision", layer.scope)));
    expect(shape(answer.decision)).toEqual(composed(perLayer));
    if (perLayer.length > 1) seen.layered++;
    seen.verdicts.add(answer.decision.decision);
  });

  it("composed more than one layer in most cases, and saw every verdict", () => {
    expect(seen.layered).toBeGreaterThan(cases.length / 2);
    expect(seen.verdicts).toEqual(new Set(["allow", "deny", "require_approval"]));
  });
});

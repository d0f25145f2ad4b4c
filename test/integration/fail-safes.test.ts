/**
 * Failures may make a decision stricter, never looser. A layer that cannot
 * be evaluated adds its tier's fail mode (from policy data) and never erases
 * another layer's deny; the baseline compiled into the deploy stands in only
 * for its own composition; a decision the policy required on the record,
 * whose record could not be written, leaves no trace in its session; and a
 * denial the infrastructure caused never counts toward a breaker.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASELINE_POLICY } from "../../src/bundles/active-policy";
import { BASELINE_REF } from "../../src/bundles/baseline";
import { chainFor } from "../../src/audit/writer";
import { composeLayers } from "../../src/engine/compose";
import { DecisionEngine } from "../../src/engine/decision-engine";
import { fallbackParams, failModeOf } from "../../src/engine/fallback-params";
import { isInfrastructureDenial } from "../../src/session/stage";
import { sessionObject } from "../../src/session/objects";
import type { RiskTier } from "../../src/types";
import { withIdentity } from "../fixtures/policy-identity";
import type { AuditChainDO as DrillChainDO } from "../worker/test-entry";
import { commit, decide, sessionStub, uniqueId } from "../session/helpers";

const baselineData = BASELINE_POLICY.data[0] as { tollgate: { params: Record<string, any> } };
const fallback = (tier: RiskTier, data: unknown[] = [baselineData]) => fallbackParams(data, tier, "support", "tickets.read");
const rules = (decision: { reasons: Array<{ rule: string }> }) => decision.reasons.map((r) => r.rule);

const deny = { decision: "deny", reasons: [{ rule: "refund_over_hard_cap", message: "too much" }], obligations: [], fail_mode: "open", risk_tier: "medium" };
const allow = { decision: "allow", reasons: [], obligations: [], fail_mode: "open", risk_tier: "medium" };

describe("composing layers when one fails", () => {
  it("a failing layer of an open tier never erases another layer's deny", () => {
    const composed = composeLayers([{ scope: "global", result: deny }, { scope: "region:eu", error: { code: "policy_aborted", message: "boom" } }], fallback("medium"));
    expect(composed.decision).toBe("deny");
    expect(rules(composed)).toContain("refund_over_hard_cap");
    expect(composed.fail_mode_applied).toMatchObject({ layer: "region:eu", code: "policy_aborted" });
  });

  it("a failing layer of a closed tier denies, whatever the others said", () => {
    const composed = composeLayers([{ scope: "global", result: { ...allow, risk_tier: "high" } }, { scope: "tenant:acme", error: { code: "policy_undefined", message: "no answer" } }], fallback("high"));
    expect(composed.decision).toBe("deny");
    expect(rules(composed)).toEqual(["policy_unavailable"]);
  });

  it("fail modes come from every layer's data: one layer closing a tier closes it", () => {
    const closedMedium = { tollgate: { params: { ...baselineData.tollgate.params, risk_tiers: { ...baselineData.tollgate.params.risk_tiers, medium: { fail_mode: "closed" } } } } };
    expect(failModeOf([baselineData], "medium")).toBe("open");
    expect(failModeOf([baselineData, closedMedium], "medium")).toBe("closed");
    expect(failModeOf([{ tollgate: { params: {} } }], "low")).toBe("closed");
    const composed = composeLayers([{ scope: "global", result: allow }, { scope: "region:eu", error: { code: "policy_aborted", message: "boom" } }], fallback("medium", [baselineData, closedMedium]));
    expect(composed.decision).toBe("deny");
  });

  it("session parameters take their most restrictive value across layers", () => {
    const parent = { ...allow, budget: { limits: { tokens: 100_000, api_calls: 200 } }, breaker: { threshold: 3, window_s: 300, cooldown_s: 600 }, approval_ttl_s: 3600, ttl_s: 60 };
    const child = { ...allow, risk_tier: "high", budget: { limits: { tokens: 50_000, api_calls: 500 } }, breaker: { threshold: 5, window_s: 900, cooldown_s: 0 }, approval_ttl_s: 600, ttl_s: 0 };
    const composed = composeLayers([{ scope: "global", result: parent }, { scope: "region:eu", result: child }], fallback("medium"));
    expect(composed).toMatchObject({ risk_tier: "high", budget: { limits: { tokens: 50_000, api_calls: 200 } }, breaker: { threshold: 3, window_s: 900, cooldown_s: 0 }, approval_ttl_s: 600, ttl_s: 0 });
  });

  it("a verdict named like a member of Object.prototype is no answer: the layer gets its tier's fail mode", () => {
    for (const verdict of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const composed = composeLayers([{ scope: "global", result: { ...allow, decision: verdict } }, { scope: "region:eu", result: allow }], fallback("high"));
      expect(composed.decision, verdict).toBe("deny");
      expect(composed.fail_mode_applied, verdict).toMatchObject({ layer: "global", code: "malformed_decision" });
    }
  });

  it("a budget dimension named __proto__ is composed like any other, not taken as the limits' prototype", () => {
    const parent = { ...allow, budget: { limits: JSON.parse('{"__proto__": 5, "tokens": 100}') } };
    const child = { ...allow, budget: { limits: JSON.parse('{"__proto__": 3, "constructor": 7}') } };
    const limits = (composeLayers([{ scope: "global", result: parent }, { scope: "region:eu", result: child }], fallback("medium")).budget as { limits: Record<string, number> }).limits;
    expect(Object.hasOwn(limits, "__proto__") && limits["__proto__"]).toBe(3);
    expect(Object.getPrototypeOf(limits)).toBe(Object.prototype);
    expect(limits.constructor).toBe(7);
    expect(limits.tokens).toBe(100);
  });
});

describe("the baseline stands in only for its own composition", () => {
  const input = JSON.stringify(withIdentity({ risk_tier: "high", tenant: "acme", agent: { id: "a", role: "finance" }, session: { id: "s" }, action: { type: "tool_call", tool: "payments.refund", args: { amount: 10 } } }));
  const broken = (layers: typeof BASELINE_POLICY.layers) => ({
    ...BASELINE_POLICY,
    key: `broken-${crypto.randomUUID()}`,
    isBaseline: false,
    layers,
    code: () => layers.map((layer) => ({ ...BASELINE_POLICY.code()[0], scope: layer.scope, wasm: new Uint8Array([0, 1, 2, 3]) })),
    data: layers.map(() => baselineData),
  });

  it("when the sandbox fails for a composition with a region layer, the tier's fail mode decides, not the older global", async () => {
    const engine = new DecisionEngine(env.LOADER);
    const composition = broken([BASELINE_REF, { scope: "region:eu", digest: `sha256:${"e".repeat(64)}`, version: 7, built_at: new Date().toISOString() }]);
    const high = await engine.decide(composition, input, fallbackParams(composition.data, "high", "finance", "payments.refund"), Date.now());
    expect(high.path).toBe("fail_mode");
    expect(high.decision.decision).toBe("deny");
    expect(high.fallback_reason).toMatch(/sandbox unavailable/);
    const low = await engine.decide(composition, input, fallbackParams(composition.data, "low", "finance", "payments.refund"), Date.now());
    expect(low).toMatchObject({ path: "fail_mode", decision: { decision: "allow", fail_mode_applied: { code: "sandbox_unavailable" } } });
  });

  it("when the sandbox fails for the baseline's own composition, the baseline answers", async () => {
    const engine = new DecisionEngine(env.LOADER);
    const composition = broken([BASELINE_REF]);
    const answer = await engine.decide(composition, input, fallbackParams(composition.data, "high", "finance", "payments.refund"), Date.now());
    expect(answer.path).toBe("baseline");
  });
});

describe("a decision whose required record cannot be written leaves no trace", () => {
  const engineer = { tenant: "acme", agent: { id: "eng-undo", role: "engineer" } };
  const shell = (session: string, command: string) => ({ ...engineer, session: { id: session }, action: { type: "tool_call", tool: "shell.exec", args: { command } } });
  const failAppends = (count: number) => (chainFor(env, "acme") as unknown as DurableObjectStub<DrillChainDO>).failNext(count);

  it("an allowed critical action is denied and not debited; once the log is back the same action is allowed and debited once", async () => {
    const session = uniqueId("undo-allow");
    await failAppends(1);
    const refused = await decide(shell(session, "ls"));
    expect(refused).toMatchObject({ decision: "deny", audit: "unavailable" });
    expect(rules(refused)).toEqual(["audit_unavailable"]);
    const view = await sessionObject(env, "acme", "eng-undo", session).view();
    expect(view.usage.api_calls).toBe(0);
    const retried = await decide(shell(session, "ls"));
    expect(retried).toMatchObject({ decision: "allow", audit: "acknowledged" });
    expect(retried.session.usage.api_calls).toBe(1);
  });

  it("a denied critical action whose record cannot be written does not count toward the breaker", async () => {
    const session = uniqueId("undo-deny");
    await failAppends(2);
    for (let i = 0; i < 2; i++) expect((await decide(shell(session, "rm -rf /"))).audit).toBe("unavailable");
    const view = await sessionObject(env, "acme", "eng-undo", session).view();
    expect(view.breaker).toBe("closed");
    // The critical tier's threshold is 2: two recorded denials do open it.
    for (let i = 0; i < 2; i++) await decide(shell(session, "rm -rf /"));
    expect((await sessionObject(env, "acme", "eng-undo", session).view()).breaker).toBe("open");
  });

  it("a decision whose answer a retry was already given is not undone: the retry's allow keeps its debit and its use of the approval", async () => {
    const session = uniqueId("undo-replayed");
    const stub = sessionStub(session);
    const action_hash = "f".repeat(64);
    const limits = { api_calls: 100 };
    const asked = await stub.commit(commit({ session_id: session, action_hash, verdict: "require_approval", limits }));
    const approvalId = asked.approval!.id;
    expect((await stub.decideApproval(approvalId, "acme", "approved", "approver", "ok")).ok).toBe(true);
    // The approved action under one Idempotency-Key, its record to be acknowledged (revertible).
    const first = commit({ session_id: session, action_hash, verdict: "require_approval", approval_id: approvalId, idempotency_key: "K", revertible: true, limits });
    expect((await stub.commit(first)).verdict).toBe("allow");
    // The client's retry arrives while the first's record is being written: it is given the stored allow
    // (and the edge, its own record acknowledged, answers it so).
    const retry = await stub.commit(commit({ session_id: session, action_hash, verdict: "require_approval", approval_id: approvalId, idempotency_key: "K", revertible: true, limits }));
    expect(retry).toMatchObject({ verdict: "allow", replayed: true });
    // The first's record could not be written: the edge asks to undo it, and the object declines.
    expect(await stub.revert(first)).toEqual({ reverted: false });
    const view = await stub.view();
    expect(view.usage.api_calls).toBe(1);
    const again = await stub.commit(commit({ session_id: session, action_hash, verdict: "require_approval", approval_id: approvalId, limits }));
    expect(again.verdict).toBe("require_approval");
  });
});

describe("infrastructure denials never count toward a breaker", () => {
  it("the edge marks a denial as the infrastructure's only when every reason is", () => {
    const stale = { decision: "deny" as const, reasons: [{ rule: "policy_stale", message: "" }], obligations: [] };
    expect(isInfrastructureDenial(stale)).toBe(true);
    expect(isInfrastructureDenial({ ...stale, reasons: [...stale.reasons, { rule: "tool_not_allowed_for_role", message: "" }] })).toBe(false);
    expect(isInfrastructureDenial({ ...stale, decision: "allow" })).toBe(false);
  });

  it("a session's object does not count a denial the policy marks as the infrastructure's, and counts the agent's own", async () => {
    const name = uniqueId("infra");
    const stub = sessionObject(env, "acme", "agent-1", name);
    const breaker = { threshold: 2, window_s: 300, cooldown_s: 0 };
    for (let i = 0; i < 5; i++) expect((await stub.commit(commit({ session_id: name, verdict: "deny", breaker, policy_denial_counts: false }))).breaker).toBe("closed");
    await stub.commit(commit({ session_id: name, verdict: "deny", breaker }));
    expect((await stub.commit(commit({ session_id: name, verdict: "deny", breaker }))).breaker).toBe("open");
  });
});

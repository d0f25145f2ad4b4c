/**
 * Many decisions at once over real HTTP to workerd, with a third of the
 * callers hanging up at different points of theirs (before, during and
 * after their sandbox call, session commit and audit record): every decision
 * that is waited for gets the policy's own answer, exactly as OPA decides the
 * same input, and none a time-out, a fallback or a fail mode. A caller that
 * leaves costs no other caller its answer.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asSent, benchAdminToken, enrolAgents, type Call } from "../../scripts/lib/bench-agents.ts";
import { bundleEdge, startEdge, type RunningEdge } from "../../scripts/lib/edge-server.ts";
import { opaDecision } from "../fixtures/opa-server.ts";
import { policyPartOf } from "../fixtures/policy-part.ts";
import { testStoreBindings } from "../fixtures/test-config.ts";

const persist = mkdtempSync(join(tmpdir(), "tollgate-at-once-"));
const admin = benchAdminToken();
let edge: RunningEdge;
let keyed: (body: Record<string, unknown>) => Call;
const scenarios = (JSON.parse(readFileSync("test/fixtures/scenarios.json", "utf8")) as { scenarios: Array<{ input: Record<string, unknown> }> }).scenarios.map((s) => asSent(s.input));

beforeAll(async () => {
  bundleEdge();
  // The test deployment's keys (a spawn's credential is minted with its identity key), with a token for
  // enrolling agents; deadlines long enough that a burst on a busy CI machine is never what times out.
  const vars = { ...testStoreBindings(), ADMIN_TOKENS: JSON.stringify(admin.entry), POLICY_TIMEOUT_MS: "5000", SESSION_TIMEOUT_MS: "5000" };
  edge = await startEdge({ port: 18871, persistTo: persist, vars });
  keyed = await enrolAgents({ url: edge.url.origin, token: admin.token }, scenarios);
});

afterAll(async () => {
  await edge?.dispose();
  rmSync(persist, { recursive: true, force: true });
});

/** Each scenario this many times per round, at once. */
const COPIES = 4;

/** Each scenario in a session of its own, so that no answer depends on which of them committed first. */
function calls(round: string): Call[] {
  return scenarios.flatMap((scenario, i) =>
    Array.from({ length: COPIES }, (_, copy) => keyed({ ...scenario, session: { ...(scenario.session as object), id: `at-once-${round}-${i}-${copy}` } })),
  );
}

function post(call: Call, signal?: AbortSignal): Promise<Response> {
  return fetch(new URL("/v1/decide", edge.url), { method: "POST", headers: { ...call.headers, "content-type": "application/json" }, body: call.body, signal });
}

type Json = Record<string, any>;

/**
 * The policy input the edge built, from the body sent and what the edge
 * reports of the caller and itself; with the tier the body declared, since
 * the policy computes the effective tier itself (root agents only, as sent here).
 */
function inputOf(sent: Json, answer: Json): Json {
  const identity = answer.identity as Json;
  return {
    ...sent,
    tenant: identity.tenant,
    risk_tier: sent.risk_tier ?? "low",
    agent: { ...sent.agent, id: identity.agent, role: identity.role, scopes: sent.agent?.scopes ?? identity.scopes, delegation_depth: identity.delegation.depth },
    identity,
    edge: { region: answer.edge.region, region_source: answer.edge.region_source, location: answer.edge.location },
  };
}

/** The part of the edge's answer the policy gave, against what OPA gives for the same input. */
async function expectAsOpa(answer: Json, sent: Json): Promise<string> {
  const expected = await opaDecision(inputOf(sent, answer));
  expect(policyPartOf(answer, expected)).toEqual(expected);
  expect(answer.evaluation.path).toBe("sandbox");
  expect(answer.evaluation.fallback_reason).toBeUndefined();
  return expected.decision as string;
}

describe("decisions at once, over HTTP", () => {
  it("answers every one as OPA does while a third of the callers hang up", async () => {
    for (const round of ["first", "second"]) {
      const leaving = calls(`${round}-leaving`).map(async (call, i) => {
        const controller = new AbortController();
        const asked = post(call, controller.signal).then(
          (response) => response.body?.cancel(),
          () => undefined,
        );
        setTimeout(() => controller.abort(), i % 5);
        await asked;
      });
      const staying = calls(round).map(async (call) => {
        const response = await post(call);
        expect(response.status).toBe(200);
        return { answer: (await response.json()) as Json, sent: JSON.parse(call.body) as Json };
      });
      const answered = await Promise.all(staying);
      await Promise.all(leaving);
      expect(answered).toHaveLength(scenarios.length * COPIES);
      const verdicts = new Set<string>();
      for (const { answer, sent } of answered) verdicts.add(await expectAsOpa(answer, sent));
      expect(verdicts).toEqual(new Set(["allow", "deny", "require_approval"]));
    }
  });
});

/**
 * A shadow candidate never decides a live request. Shadow evaluation runs
 * the candidate through the same engine as live decisions; when the
 * candidate's sandbox cannot start, the engine falls back to narrower
 * compositions, and each is loaded under the name its layer refs give it.
 * Those refs name the candidate as its code does (rollout/shadow.ts,
 * withCandidate), so no live composition's sandbox is ever loaded with a
 * candidate's code, and an answer the candidate did not give itself is not
 * compared.
 *
 * Here the EU team shadows a candidate that raises its refund approval
 * threshold back to the global 500 (from 200), and the candidate's sandbox
 * cannot start (its isolate is lost). A live EU refund of 300 still needs
 * approval, as the published EU layer says.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DecisionEngine } from "../../src/engine/decision-engine";
import { fallbackParams } from "../../src/engine/fallback-params";
import { uploadCandidate } from "../../src/rollout/candidate";
import { runShadows } from "../../src/rollout/shadow";
import type { RolloutDocument } from "../../src/rollout/document";
import { withIdentity } from "../fixtures/policy-identity";
import { bucket, edge, emptyBucket, layerFiles, publish, publishContext, refund, signLayer, T0, trust, type Edge } from "./harness";

/** The platform's loader, except that the candidate composition's sandbox cannot start. */
const loader = {
  get(name: string, code: () => WorkerLoaderWorkerCode) {
    if (name.includes("~shadow")) {
      const lost = () => Promise.reject(new Error("the sandbox's isolate was lost"));
      return { getEntrypoint: () => ({ decide: lost, measure: lost }) };
    }
    return env.LOADER.get(name, code);
  },
} as unknown as WorkerLoader;

const engine = new DecisionEngine(loader);
let eu: Edge;
let candidateRef: { version: number; digest: string };

beforeAll(async () => {
  await emptyBucket();
  await publish("global", { version: 1 });
  await publish("region:eu", { version: 1 });
  await publish("tenant:acme", { version: 1 });
  // The EU candidate: the EU layer with its refund approval threshold back at the global 500.
  const files = layerFiles("region:eu");
  const data = JSON.parse(new TextDecoder().decode(files["data.json"]));
  expect(data.tollgate.params.refunds.approval_threshold).toBe(200);
  data.tollgate.params.refunds.approval_threshold = 500;
  const candidateFiles = { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) };
  const { manifest } = await signLayer("region:eu", { version: 2, files: candidateFiles });
  candidateRef = await uploadCandidate(publishContext(), "region:eu", manifest, candidateFiles);
  eu = edge("eu", { engine });
  expect(await eu.store.refresh(T0)).toBe("activated");
});

describe("a shadow candidate whose sandbox cannot start", () => {
  it("never decides a live request", async () => {
    // One acme request in the EU, shadowed: the candidate takes region:eu's place in [global, region:eu, tenant:acme].
    const active = eu.store.resolve("acme", ["eu"], T0).policy;
    expect(active.layers.map((l) => l.scope)).toEqual(["global", "region:eu", "tenant:acme"]);
    const input = refund(300, "acme");
    const inputJson = JSON.stringify(withIdentity(input));
    const fallback = fallbackParams(active.data, "high", "finance", "payments.refund");
    const live = await engine.decide(active, inputJson, fallback, T0);
    const document: RolloutDocument = { scope: "region:eu", version: 1, mode: "enforce", shadow: candidateRef, created: new Date(T0).toISOString(), key_id: "eu-rollout-test" };
    const diffs = await runShadows({
      documents: [document],
      bucket,
      trust,
      engine,
      active,
      activeDecision: live.decision,
      inputJson,
      fallback,
      decisionId: "d-1",
      requestTenant: "acme",
      tool: "payments.refund",
      nowMs: T0,
    });
    // The candidate never answered: nothing is compared.
    expect(diffs).toEqual([]);

    // A live decision for another tenant in the EU (no tenant layer: [global, region:eu]).
    const answer = await eu.decide(refund(300, "initech"), T0);
    expect(answer.layers).toEqual([{ scope: "global", version: 1 }, { scope: "region:eu", version: 1 }]);
    // The published EU layer asks for approval above 200.
    expect(answer.decision).toBe("require_approval");
  });
});

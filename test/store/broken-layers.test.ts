/**
 * A region or tenant layer that cannot run takes nothing above it down. Its
 * publisher holds a key for its own scope only, so whatever its policy.wasm
 * does, the global (and region) layers must still judge every request of its
 * tenants: a module that is not WebAssembly is refused at publish and at
 * activation; and a composition whose sandbox cannot start at all (on
 * Cloudflare also one that a layer spinning as it starts runs past the CPU
 * limit) is decided by the layers above the failing one, with its tier's
 * fail mode as one more answer, so the global rules' denials stand. A
 * composition that has answered and then loses its sandbox on an input gets
 * one retry in a fresh sandbox, never the narrower fallback: an input that
 * kills the sandbox cannot shed the layers below the global one.
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, inject, it } from "vitest";
import { compositionKey, type ActivePolicy } from "../../src/bundles/active-policy";
import { BASELINE_LAYER, BASELINE_REF } from "../../src/bundles/baseline";
import { publishLayer } from "../../src/bundles/publisher";
import { DecisionEngine } from "../../src/engine/decision-engine";
import { fallbackParams } from "../../src/engine/fallback-params";
import type { PolicySandboxRpc } from "../../src/engine/sandbox-protocol";
import { withIdentity } from "../fixtures/policy-identity";
import { currentSnapshot, edge, emptyBucket, layerFiles, plantLayer, plantSnapshot, publish, publishContext, signLayer, T0 } from "./harness";

beforeEach(emptyBucket);

const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const section = (id: number, content: number[]) => [id, ...leb(content.length), ...content];
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** A passive data segment holding the rule ids as string constants: what the "keeps every parent rule" check reads. */
function ruleIdData(ruleIds: string[]): number[] {
  const text = [...new TextEncoder().encode(ruleIds.map((id) => `${id}\0`).join(""))];
  return section(11, [0x01, 0x01, ...leb(text.length), ...text]);
}

/** Carries every rule id, then a section out of order: not a WebAssembly module. */
function notAModule(ruleIds: string[]): Uint8Array {
  return new Uint8Array([...HEADER, ...ruleIdData(ruleIds), ...section(1, [0x01, 0xff])]);
}

// A support agent may not use files.read (its floor is low, which fails open): the global layer denies it.
const supportReadsFiles = (tenant: string) => ({
  risk_tier: "low" as const,
  tenant,
  agent: { id: "agent-7", role: "support" },
  session: { id: "s-1" },
  action: { type: "tool_call", tool: "files.read", args: { path: "/etc/shadow" } },
});
const supportReadsTicket = (tenant: string) => ({ ...supportReadsFiles(tenant), action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } });

/** The rule ids the global layer's manifest declares (a child layer must keep them). */
function globalRules(): string[] {
  return (inject("storeFixtures").layers.global.draft as unknown as { rules: string[] }).rules;
}

describe("a layer below the global one that cannot run", () => {
  it("is refused at publish when its policy.wasm is not a WebAssembly module, and refused by an edge that finds one in the bucket", async () => {
    await publish("global", { version: 1 });
    const files = { ...layerFiles("tenant:acme"), "policy.wasm": notAModule(globalRules()) };
    const { manifest } = await signLayer("tenant:acme", { version: 1, files });
    await expect(publishLayer(publishContext(), "tenant:acme", manifest, files)).rejects.toMatchObject({ code: "malformed", message: expect.stringContaining("not a valid WebAssembly module") });

    // Written past the publish checks, with a snapshot that binds it: the edge keeps its last good policy.
    const us = edge("us");
    expect(await us.store.refresh(T0)).toBe("activated");
    await plantLayer("tenant:acme", 1, manifest, files);
    const snapshot = await currentSnapshot();
    await plantSnapshot(snapshot.version + 1, { ...snapshot.layers, "tenant:acme": { version: 1, digest: manifest.document.digest } });
    expect(await us.store.refresh(T0 + 60_000)).toBe("refused");
    expect(await us.decide(supportReadsFiles("acme"), T0 + 60_000)).toMatchObject({ decision: "deny", rules: ["tool_not_allowed_for_role"] });
  });

  it("a composition whose sandbox cannot start is decided by the layers above the one that fails, with its tier's fail mode as one more answer", async () => {
    // Past verification, as an edge would hold one if a check were ever missed: a tenant layer no sandbox can load.
    const engine = new DecisionEngine(env.LOADER, "sandbox", 300);
    const tenantRef = { scope: "tenant:acme", digest: `sha256:${"e".repeat(64)}`, version: 1, built_at: new Date(T0).toISOString() };
    const composed: ActivePolicy = {
      key: compositionKey([BASELINE_REF, tenantRef]),
      layers: [BASELINE_REF, tenantRef],
      code: () => [BASELINE_LAYER, { scope: "tenant:acme", entrypoint: BASELINE_LAYER.entrypoint, wasm: notAModule([]), data: BASELINE_LAYER.data }],
      data: [BASELINE_LAYER.data, BASELINE_LAYER.data],
      isBaseline: false,
    };
    const decide = (body: Record<string, unknown>, tool: string) =>
      engine.decide(composed, JSON.stringify(withIdentity(body)), fallbackParams(composed.data, "low", "support", tool), T0);

    const denied = await decide(supportReadsFiles("acme"), "files.read");
    expect(denied.path).toBe("sandbox");
    expect(denied.fallback_reason).toContain("decided without tenant:acme");
    expect(denied.decision.decision).toBe("deny");
    const rules = denied.decision.reasons.map((reason) => reason.rule);
    expect(rules).toContain("tool_not_allowed_for_role");
    // The layer left out adds its tier's fail mode as one more answer (open at low: it denies nothing more).
    expect(rules).toContain("policy_unavailable");
    expect(denied.decision.fail_mode_applied).toMatchObject({ layer: "tenant:acme", code: "sandbox_unavailable" });
    // What the global layer allows stays allowed.
    expect((await decide(supportReadsTicket("acme"), "tickets.read")).decision.decision).toBe("allow");
  });
});

/**
 * The real Worker Loader, except that the sandboxes of composition `key`
 * whose generation `dies` picks reject a decision whose input carries
 * `marker`, as an isolate lost in the middle of the call would. No input is
 * known to do that to a real sandbox; this is how one would look to the edge.
 */
function losingSandboxOn(key: string, marker: string, dies: (generation: number) => boolean): WorkerLoader {
  return {
    get(name: string, factory: Parameters<WorkerLoader["get"]>[1]) {
      const worker = env.LOADER.get(name, factory);
      const generation = Number(name.slice(name.lastIndexOf(":") + 1));
      const ours = name.startsWith(`policy:${key}:`) && dies(generation);
      return {
        getEntrypoint(entrypoint?: string) {
          const real = worker.getEntrypoint(entrypoint) as unknown as PolicySandboxRpc;
          const sandbox: PolicySandboxRpc = {
            decide: (inputJson, ...rest) => (ours && inputJson.includes(marker) ? Promise.reject(new Error("the sandbox's isolate was lost")) : real.decide(inputJson, ...rest)),
            measure: (...args) => real.measure(...args),
          };
          return sandbox;
        },
      };
    },
  } as unknown as WorkerLoader;
}

/**
 * The real Worker Loader, except that the layer `scope` of composition `key`
 * answers `text` as its result: what a forged wasm that dumps something other
 * than a result set of one value would send.
 */
function answeringText(key: string, scope: string, text: string): WorkerLoader {
  const forged = (answer: Awaited<ReturnType<PolicySandboxRpc["decide"]>>) => ({
    ...answer,
    layers: answer.layers.map((layer) => (layer.scope === scope ? { scope, result_text: text } : layer)),
  });
  return {
    get(name: string, factory: Parameters<WorkerLoader["get"]>[1]) {
      const worker = env.LOADER.get(name, factory);
      const ours = name.startsWith(`policy:${key}:`);
      return {
        getEntrypoint(entrypoint?: string) {
          const real = worker.getEntrypoint(entrypoint) as unknown as PolicySandboxRpc;
          const sandbox: PolicySandboxRpc = {
            decide: async (...args) => (ours ? forged(await real.decide(...args)) : real.decide(...args)),
            measure: (...args) => real.measure(...args),
          };
          return sandbox;
        },
      };
    },
  } as unknown as WorkerLoader;
}

/**
 * Two working layers: the baseline's code, and the same code under
 * tenant:acme's scope with a digest of `digestHex` repeated, so each test's
 * composition has a key (and so a sandbox) of its own.
 */
function baselineTwice(digestHex: string): ActivePolicy {
  const tenantRef = { scope: "tenant:acme", digest: `sha256:${digestHex.repeat(64)}`, version: 1, built_at: new Date(T0).toISOString() };
  return {
    key: compositionKey([BASELINE_REF, tenantRef]),
    layers: [BASELINE_REF, tenantRef],
    code: () => [BASELINE_LAYER, { ...BASELINE_LAYER, scope: "tenant:acme" }],
    data: [BASELINE_LAYER.data, BASELINE_LAYER.data],
    isBaseline: false,
  };
}

describe("a layer whose result is not one value", () => {
  const composed = baselineTwice("7");

  it.each([
    ['{"decision": "allow"}, {"result": {"decision": "allow"}', "two results"],
    ['{"decision": "allow"', "cut short"],
    ["", "nothing"],
  ])("is that layer's failure (%s: %s): the global layer still judges, and nothing is allowed on the forged text", async (text) => {
    const engine = new DecisionEngine(answeringText(composed.key, "tenant:acme", text), "sandbox", 300);
    const denied = await engine.decide(composed, JSON.stringify(withIdentity(supportReadsFiles("acme"))), fallbackParams(composed.data, "low", "support", "files.read"), T0);
    expect(denied.decision.decision).toBe("deny");
    expect(denied.decision.reasons.map((reason) => reason.rule)).toContain("tool_not_allowed_for_role");
    expect(denied.decision.fail_mode_applied).toMatchObject({ layer: "tenant:acme", code: "policy_aborted" });
    expect(denied.decision.fail_mode_applied?.message).toMatch(/result could not be read/);
  });
});

describe("a composition that has answered and then loses its sandbox on an input", () => {
  // Two working layers, so the narrower composition would answer.
  const composed = baselineTwice("d");
  const readTicket = (id: string) => ({ ...supportReadsTicket("acme"), action: { type: "tool_call", tool: "tickets.read", args: { id } } });
  const decideWith = (engine: DecisionEngine, id: string) =>
    engine.decide(composed, JSON.stringify(withIdentity(readTicket(id))), fallbackParams(composed.data, "low", "support", "tickets.read"), T0);

  it("is refused when a fresh sandbox fails on it too, although its tier fails open and the layers above would allow it", async () => {
    const engine = new DecisionEngine(losingSandboxOn(composed.key, "KILLS-SANDBOX", () => true), "sandbox", 300);
    expect((await decideWith(engine, "T-1")).decision.decision).toBe("allow");

    const refused = await decideWith(engine, "KILLS-SANDBOX");
    expect(refused.path).toBe("fail_mode");
    expect(refused.decision.decision).toBe("deny");
    expect(refused.decision.reasons.map((reason) => reason.rule)).toEqual(["policy_failed_on_input"]);
    expect(refused.fallback_reason).toContain("fresh sandbox");
    // The tenant layer was not shed: nothing was decided without it.
    expect(refused.fallback_reason).not.toContain("decided without");
    // Other inputs still go through.
    expect((await decideWith(engine, "T-2")).decision.decision).toBe("allow");
  });

  it("is decided by a fresh sandbox when only the first one was lost", async () => {
    const engine = new DecisionEngine(losingSandboxOn(composed.key, "FIRST-ISOLATE-LOST", (generation) => generation === 0), "sandbox", 300);
    expect((await decideWith(engine, "T-1")).decision.decision).toBe("allow");

    const retried = await decideWith(engine, "FIRST-ISOLATE-LOST");
    expect(retried.path).toBe("sandbox");
    expect(retried.decision.decision).toBe("allow");
    expect(retried.decision.fail_mode_applied).toBeUndefined();
    expect(retried.fallback_reason).toContain("tried once more in a fresh sandbox");
  });

  it("still gets the narrower fallback when it has never answered (a sandbox that cannot start is not the input's doing)", async () => {
    const engine = new DecisionEngine(losingSandboxOn(composed.key, "T-", () => true), "sandbox", 300);
    const decided = await decideWith(engine, "T-1");
    expect(decided.fallback_reason).toContain("decided without tenant:acme");
    expect(decided.decision.fail_mode_applied).toMatchObject({ layer: "tenant:acme", code: "sandbox_unavailable" });
  });
});

/**
 * Many edges, one store: three edge locations in different regions share one
 * R2 bundle store. Overrides reach exactly the edges and tenants they are
 * for, loosening overrides are refused at publish and ignored at the edge,
 * and so is one whose compiled policy lacks a parent rule, whatever its
 * manifest lists; older versions are refused, and a publish reaches every
 * edge within one refresh interval, confirming an unchanged snapshot without
 * reading or verifying it again.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { BundleError } from "../../src/bundles/verify";
import { bucket, currentSnapshot, edge, emptyBucket, layerFiles, plantLayer, plantSnapshot, publish, publishContext, refund, signLayer, T0 } from "./harness";
import { publishLayer } from "../../src/bundles/publisher";
import { CURRENT_SNAPSHOT_KEY } from "../../src/bundles/store-layout";

beforeEach(emptyBucket);

/** The bucket, recording every object read through it and whether R2 sent its body. */
function countingReads(inner: R2Bucket): { bucket: R2Bucket; reads: Array<{ key: string; body: boolean }> } {
  const reads: Array<{ key: string; body: boolean }> = [];
  const counted = new Proxy(inner, {
    get(target, property) {
      if (property === "get") {
        return async (key: string, options?: R2GetOptions) => {
          const object = await target.get(key, options);
          reads.push({ key, body: object !== null && "body" in object });
          return object;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { bucket: counted, reads };
}

async function threeEdges(nowMs = T0) {
  const edges = [edge("eu"), edge("us"), edge("apac")];
  for (const e of edges) expect(await e.store.refresh(nowMs)).toBe("activated");
  return edges;
}

describe("regional and tenant overrides", () => {
  it("an EU override lowers the refund limit for EU edges only", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const [eu, us, apac] = await threeEdges();
    const atEu = await eu.decide(refund(300), T0);
    expect(atEu.decision).toBe("require_approval");
    expect(atEu.rules).toEqual(["refund_requires_approval"]);
    expect(atEu.layers).toEqual([{ scope: "global", version: 1 }, { scope: "region:eu", version: 1 }]);
    for (const other of [us, apac]) {
      const answer = await other.decide(refund(300), T0);
      expect(answer.decision).toBe("allow");
      expect(answer.layers).toEqual([{ scope: "global", version: 1 }]);
    }
  });

  it("a tenant override tightens one tenant only", async () => {
    await publish("global", { version: 1 });
    await publish("tenant:acme", { version: 1 });
    const edges = await threeEdges();
    for (const e of edges) {
      const acme = await e.decide(refund(1500, "acme"), T0);
      expect(acme.decision).toBe("deny");
      expect(acme.rules).toContain("refund_over_hard_cap");
      expect(acme.layers.map((l) => l.scope)).toContain("tenant:acme");
      const initech = await e.decide(refund(1500, "initech"), T0);
      expect(initech.decision).toBe("require_approval");
    }
  });
});

function loosenedEuFiles(): Record<string, Uint8Array> {
  const files = layerFiles("region:eu");
  const data = JSON.parse(new TextDecoder().decode(files["data.json"]));
  data.tollgate.params.refunds.approval_threshold = 900;
  return { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) };
}

describe("a layer that would loosen its parent", () => {
  it("is refused at publish, naming the parameter, and the refusal is recorded", async () => {
    await publish("global", { version: 1 });
    const { manifest, files } = await signLayer("region:eu", { version: 2, files: loosenedEuFiles() });
    const refusal = await publishLayer(publishContext(), "region:eu", manifest, files).catch((e) => e);
    expect(refusal).toBeInstanceOf(BundleError);
    expect(refusal.code).toBe("loosens_parent");
    expect(refusal.message).toContain("refunds.approval_threshold = 900");
    expect((await currentSnapshot()).layers["region:eu"]).toBeUndefined();
    const log = await bucket.list({ prefix: "log/publish/" });
    const entries = await Promise.all(log.objects.map(async (o) => (await bucket.get(o.key))!.json<{ outcome: string; code?: string; actor: string }>()));
    expect(entries).toContainEqual(expect.objectContaining({ outcome: "refused", code: "loosens_parent", actor: "test-suite" }));
  });

  it("is logged by an edge if it reaches the store anyway, and loosens nothing: the global layer's answer stands", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const [eu] = await threeEdges();
    const { manifest, files } = await signLayer("region:eu", { version: 2, files: loosenedEuFiles() });
    await plantLayer("region:eu", 2, manifest, files);
    const snapshot = await currentSnapshot();
    await plantSnapshot(snapshot.version + 1, { ...snapshot.layers, "region:eu": { version: 2, digest: manifest.document.digest } });
    expect(await eu.store.refresh(T0 + 60_000)).toBe("activated");
    expect(eu.store.conflicts[0]).toMatchObject({ code: "loosens_parent" });
    expect(eu.store.conflicts[0].message).toContain("refunds.approval_threshold = 900");
    // Its threshold of 900 would allow a refund of 600; the global layer's 500 asks for approval, and the strictest answer wins.
    const answer = await eu.decide(refund(600), T0 + 60_000);
    expect(answer.decision).toBe("require_approval");
    expect(answer.layers).toContainEqual({ scope: "region:eu", version: 2 });
    expect(answer.rules).toContain("refund_requires_approval");
  });
});

/** The global layer's files with a parameter tightened (its bounds and rules as they are). */
function tightenedGlobalFiles(threshold: number): Record<string, Uint8Array> {
  const files = layerFiles("global");
  const data = JSON.parse(new TextDecoder().decode(files["data.json"]));
  data.tollgate.params.refunds.approval_threshold = threshold;
  return { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) };
}

describe("a global layer that tightens a parameter its overrides were built on", () => {
  it("takes effect on every edge at once, for every tenant and region; an override left out of bounds is logged, not a veto", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    await publish("tenant:acme", { version: 1 });
    const [eu] = await threeEdges();
    // The EU layer asks for approval above 200: a refund of 150 is a plain allow there.
    expect((await eu.decide(refund(150, "initech"), T0)).decision).toBe("allow");
    expect((await eu.decide(refund(150, "acme"), T0)).decision).toBe("allow");
    // The global team lowers the threshold to 100; the EU and acme layers were built on 500 (EU's own 200, acme's 500).
    const { manifest, files } = await signLayer("global", { version: 2, files: tightenedGlobalFiles(100), nowMs: T0 + 60_000 });
    await publishLayer(publishContext(T0 + 60_000), "global", manifest, files);
    expect(await eu.store.refresh(T0 + 120_000)).toBe("activated");
    for (const tenant of ["initech", "acme"]) {
      const answer = await eu.decide(refund(150, tenant), T0 + 120_000);
      expect(answer.decision, tenant).toBe("require_approval");
      expect(answer.layers, tenant).toContainEqual({ scope: "global", version: 2 });
    }
    expect(eu.store.conflicts.filter((c) => c.code === "loosens_parent").map((c) => c.message.split(" ")[0]).sort()).toEqual(["region:eu", "tenant:acme"]);
    // A new isolate takes the same snapshot, not the baseline.
    const cold = edge("eu");
    await cold.store.ensureLoaded(T0 + 120_000);
    const coldAnswer = await cold.decide(refund(150, "initech"), T0 + 120_000);
    expect(coldAnswer.layers).toContainEqual({ scope: "global", version: 2 });
    expect(coldAnswer.decision).toBe("require_approval");
  });
});

/** The same layer's wasm with one rule id renamed in its string constants: a compiled policy that no longer raises it. */
function withoutRule(files: Record<string, Uint8Array>, rule: string): Record<string, Uint8Array> {
  const wasm = files["policy.wasm"].slice();
  const from = new TextEncoder().encode(rule);
  let renamed = 0;
  for (let i = 0; i + from.length <= wasm.length; i++) {
    if (from.every((b, j) => wasm[i + j] === b)) {
      wasm[i + from.length - 1] ^= 0x02;
      renamed++;
    }
  }
  expect(renamed).toBeGreaterThan(0);
  return { ...files, "policy.wasm": wasm };
}

describe("a layer whose compiled policy drops a parent rule", () => {
  it("is refused at publish and logged by the edge, though its manifest still lists the rule; the global layer's rule still fires", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const [eu] = await threeEdges();
    const { manifest, files } = await signLayer("region:eu", { version: 2, files: withoutRule(layerFiles("region:eu"), "refund_over_hard_cap") });
    expect(manifest.document.rules).toContain("refund_over_hard_cap");

    const refusal = await publishLayer(publishContext(), "region:eu", manifest, files).catch((e) => e);
    expect(refusal).toMatchObject({ code: "loosens_parent" });
    expect(refusal.message).toContain("rule refund_over_hard_cap of the parent is missing from the child layer's compiled policy");

    await plantLayer("region:eu", 2, manifest, files);
    const snapshot = await currentSnapshot();
    await plantSnapshot(snapshot.version + 1, { ...snapshot.layers, "region:eu": { version: 2, digest: manifest.document.digest } });
    expect(await eu.store.refresh(T0 + 60_000)).toBe("activated");
    expect(eu.store.conflicts[0]).toMatchObject({ code: "loosens_parent" });
    expect(eu.store.conflicts[0].message).toContain("refund_over_hard_cap");
    // The EU layer no longer raises it; the global layer, evaluated beside it, does, and its deny wins.
    const answer = await eu.decide(refund(6_000), T0 + 60_000);
    expect(answer.layers).toContainEqual({ scope: "region:eu", version: 2 });
    expect(answer.decision).toBe("deny");
    expect(answer.rules).toContain("refund_over_hard_cap");
  });
});

describe("versions only go forward", () => {
  it("refuses to publish a version that is not newer", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 3 });
    const refusal = await publish("region:eu", { version: 2 }).catch((e) => e);
    expect(refusal).toMatchObject({ code: "version_not_newer" });
  });

  it("an edge refuses a replayed older snapshot, though validly signed", async () => {
    await publish("global", { version: 1 });
    const older = await bucket.get("snapshots/current.json").then((o) => o!.text());
    await publish("region:eu", { version: 2 });
    const [eu] = await threeEdges();
    await bucket.put("snapshots/current.json", older);
    expect(await eu.store.refresh(T0 + 60_000)).toBe("refused");
    expect(eu.store.conflicts[0]).toMatchObject({ code: "version_not_newer" });
    expect((await eu.decide(refund(300), T0 + 60_000)).layers).toContainEqual({ scope: "region:eu", version: 2 });
  });

  it("a rollback is a new, higher version with the old content", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    await publish("region:eu", { version: 2, files: loosenedEuFiles() }).catch(() => undefined);
    const rolledBack = await publish("region:eu", { version: 5 });
    const [eu] = await threeEdges();
    expect(rolledBack.version).toBe(5);
    expect((await eu.decide(refund(300), T0)).layers).toContainEqual({ scope: "region:eu", version: 5 });
  });
});

describe("distribution", () => {
  it("a new publish reaches all edges within one refresh interval", async () => {
    await publish("global", { version: 1 });
    const edges = await threeEdges();
    const interval = edges[0].store.config.refreshIntervalMs;
    const published = await publish("region:eu", { version: 2, nowMs: T0 + 1_000 });
    // Before the interval is up, edges do not poll: no storm on the store.
    for (const e of edges) expect(e.store.maybeRefresh(T0 + 1_000)).toBeUndefined();
    for (const e of edges) await e.store.maybeRefresh(T0 + interval);
    for (const e of edges) expect(e.store.status(T0 + interval).snapshot_version).toBe(published.snapshot_version);
    expect((await edges[0].decide(refund(300), T0 + interval)).decision).toBe("require_approval");
  });

  it("an unchanged snapshot is confirmed with a conditional read, not re-verified", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const { bucket: counted, reads } = countingReads(bucket);
    const eu = edge("eu", { bucket: counted });
    expect(await eu.store.refresh(T0)).toBe("activated");
    // The first load reads the snapshot and every layer it binds, and verifies them.
    expect(reads.filter((r) => r.key.startsWith("layers/") && r.body).length).toBeGreaterThan(0);
    reads.length = 0;
    expect(await eu.store.refresh(T0 + 30_000)).toBe("unchanged");
    // One read, answered without a body (the etag matched): nothing came back to verify again.
    expect(reads).toEqual([{ key: CURRENT_SNAPSHOT_KEY, body: false }]);
  });
});

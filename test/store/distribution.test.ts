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

  it("is ignored by an edge if it reaches the store anyway: the previous composition keeps serving", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const [eu] = await threeEdges();
    const { manifest, files } = await signLayer("region:eu", { version: 2, files: loosenedEuFiles() });
    await plantLayer("region:eu", 2, manifest, files);
    const snapshot = await currentSnapshot();
    await plantSnapshot(snapshot.version + 1, { ...snapshot.layers, "region:eu": { version: 2, digest: manifest.document.digest } });
    expect(await eu.store.refresh(T0 + 60_000)).toBe("refused");
    expect(eu.store.conflicts[0]).toMatchObject({ code: "loosens_parent" });
    const answer = await eu.decide(refund(300), T0 + 60_000);
    expect(answer.decision).toBe("require_approval");
    expect(answer.layers).toContainEqual({ scope: "region:eu", version: 1 });
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
  it("is refused at publish and by the edge, though its manifest still lists the rule", async () => {
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
    expect(await eu.store.refresh(T0 + 60_000)).toBe("refused");
    expect(eu.store.conflicts[0]).toMatchObject({ code: "loosens_parent" });
    expect((await eu.decide(refund(300), T0 + 60_000)).layers).toContainEqual({ scope: "region:eu", version: 1 });
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

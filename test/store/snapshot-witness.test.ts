/**
 * Putting an older signed snapshot back as current.json, the attack that
 * signatures alone do not stop: an edge that has seen a newer one refuses it
 * (distribution.test.ts), and with the snapshot witness a new isolate with
 * no copy of its own refuses it too, since it asks the witness, which the
 * bucket's writers cannot reach, for the newest version published. A witness
 * that cannot answer leaves the isolate as it would be without one, and says
 * so. The publisher raises the witness once a snapshot is current; the admin
 * API's publishes use the deployment's.
 */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { snapshotWitness, type SnapshotWitnessDO } from "../../src/bundles/snapshot-witness-do";
import { CURRENT_SNAPSHOT_KEY, SNAPSHOT_HIGH_WATER_KEY } from "../../src/bundles/store-layout";
import { publishLayer } from "../../src/bundles/publisher";
import { publishContext as deploymentPublishContext } from "../../src/routes/admin-params";
import { bucket, currentSnapshot, edge, emptyBucket, publishContext, refund, signLayer, T0 } from "./harness";

beforeEach(emptyBucket);

/** A witness of this test's own, so tests do not share one. */
function witness(): DurableObjectStub<SnapshotWitnessDO> {
  const namespace = env.SNAPSHOT_WITNESS as DurableObjectNamespace<SnapshotWitnessDO>;
  return namespace.get(namespace.idFromName(`test-${crypto.randomUUID()}`));
}

async function publishWith(stub: DurableObjectStub<SnapshotWitnessDO>, scope: string, version: number) {
  const { manifest, files } = await signLayer(scope, { version });
  return publishLayer({ ...publishContext(), witness: stub }, scope, manifest, files);
}

/** v1 holds the global layer; v2 adds the EU layer (a refund over 200 needs approval there). The attacker puts v1 back. */
async function rolledBackStore(stub: DurableObjectStub<SnapshotWitnessDO>): Promise<void> {
  await publishWith(stub, "global", 1);
  const older = await (await bucket.get(CURRENT_SNAPSHOT_KEY))!.text();
  await publishWith(stub, "region:eu", 1);
  await bucket.put(CURRENT_SNAPSHOT_KEY, older);
}

describe("the snapshot witness", () => {
  it("is raised by every publish, only ever upwards", async () => {
    const stub = witness();
    expect(await stub.newest()).toBe(0);
    await publishWith(stub, "global", 1);
    expect(await stub.newest()).toBe(1);
    await publishWith(stub, "region:eu", 1);
    expect(await stub.newest()).toBe(2);
    expect(await stub.raise(1)).toBe(2);
    expect(await stub.newest()).toBe(2);
    for (const notAVersion of [Number.NaN, -3, 2.5, Number.MAX_VALUE]) expect(await stub.raise(notAVersion)).toBe(2);
  });

  it("reads a corrupt stored version as none (the bucket's mark still guards the publisher) and is repaired by the next publish", async () => {
    const stub = witness();
    await publishWith(stub, "global", 1);
    for (const corrupt of ["7", -4, 1.5, { version: 9 }, null]) {
      await runInDurableObject(stub, (_instance, state) => state.storage.put("newest_snapshot_version", corrupt));
      expect(await stub.newest()).toBe(0);
    }
    // The publish still builds on the newest snapshot (the bucket's mark says v1), and puts the witness right.
    expect((await publishWith(stub, "region:eu", 1)).snapshot_version).toBe(2);
    expect(await stub.newest()).toBe(2);
  });

  it("makes a new isolate refuse an older signed snapshot put back as current.json", async () => {
    const stub = witness();
    await rolledBackStore(stub);

    // Without the witness (the gap it closes): a new isolate takes v1, drops the EU layer and calls it current.
    const blind = edge("eu");
    await blind.store.ensureLoaded(T0);
    expect(blind.store.status(T0).snapshot_version).toBe(1);
    expect(blind.store.conflicts).toEqual([]);
    expect((await blind.decide(refund(300, "initech"), T0 + 700_000)).stale).toBe(true);
    expect((await blind.decide(refund(300, "initech"), T0 + 700_000)).decision).not.toBe("deny");

    // With it: v1 is refused and said to be; nothing is activated, so the edge decides with the
    // baseline compiled into its deploy as for any snapshot it refuses, stale, and once the
    // staleness bound has passed without a snapshot it may take, by the tier's fail mode.
    const witnessed = edge("eu", { newestPublished: () => stub.newest() });
    await witnessed.store.ensureLoaded(T0);
    expect(witnessed.store.conflicts[0]).toMatchObject({ code: "version_not_newer", snapshot_version: 1 });
    expect(witnessed.store.status(T0).snapshot_version).toBeNull();
    expect((await witnessed.decide(refund(300, "initech"), T0)).stale).toBe(true);
    expect(await witnessed.store.refresh(T0 + 700_000)).toBe("refused");
    expect((await witnessed.decide(refund(300, "initech"), T0 + 700_000)).decision).toBe("deny");
  });

  it("refuses a publish on a store whose current.json and high-water mark were both deleted, when more was published", async () => {
    const stub = witness();
    await publishWith(stub, "global", 1);
    await publishWith(stub, "region:eu", 1);
    // Someone with write access to the bucket deletes the snapshot and the bucket's own mark of it.
    await bucket.delete([CURRENT_SNAPSHOT_KEY, SNAPSHOT_HIGH_WATER_KEY]);
    // The next publish would have signed a v1 holding only its own layer: the EU layer gone.
    const refused = await publishWith(stub, "global", 2).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "snapshot_behind" });
    expect((refused as Error).message).toContain("v2 was published");
    expect(await bucket.head(CURRENT_SNAPSHOT_KEY)).toBeNull();
    // Without a witness the bucket alone cannot tell (the gap it closes): that publish goes through as v1, without the EU layer.
    const { manifest, files } = await signLayer("global", { version: 2 });
    expect((await publishLayer(publishContext(), "global", manifest, files)).snapshot_version).toBe(1);
    expect(Object.keys((await currentSnapshot()).layers)).toEqual(["global"]);
  });

  it("takes the newest snapshot once it is current again", async () => {
    const stub = witness();
    await publishWith(stub, "global", 1);
    await publishWith(stub, "region:eu", 1);
    const witnessed = edge("eu", { newestPublished: () => stub.newest() });
    await witnessed.store.ensureLoaded(T0);
    expect(witnessed.store.conflicts).toEqual([]);
    expect((await witnessed.decide(refund(300, "initech"), T0)).layers.map((layer) => layer.scope)).toEqual(["global", "region:eu"]);
  });

  it("that cannot answer leaves a new isolate as it would be without one, and says so", async () => {
    const stub = witness();
    await rolledBackStore(stub);
    const unanswered = edge("eu", { newestPublished: () => Promise.reject(new Error("object unreachable")) });
    await unanswered.store.ensureLoaded(T0);
    expect(unanswered.store.conflicts.map((conflict) => conflict.code)).toContain("witness_unreachable");
    expect((await unanswered.decide(refund(300, "initech"), T0)).layers.map((layer) => layer.scope)).toEqual(["global"]);

    // One that never answers holds a new isolate back by its deadline only.
    const silent = edge("eu", { newestPublished: () => new Promise<number>(() => undefined) });
    await silent.store.ensureLoaded(T0);
    expect(silent.store.conflicts.find((conflict) => conflict.code === "witness_unreachable")?.message).toMatch(/no answer within 2000 ms/);
    expect(silent.store.status(T0).snapshot_version).toBe(1);
  });

  it("is the deployment's own in every publish the admin API makes", async () => {
    const deployment = deploymentPublishContext(env, "test-publisher").witness;
    expect(deployment).toBeDefined();
    const before = await snapshotWitness(env)!.newest();
    const { manifest, files } = await signLayer("global", { version: 1 });
    const { snapshot_version } = await publishLayer({ ...publishContext(), witness: deployment }, "global", manifest, files);
    expect(await snapshotWitness(env)!.newest()).toBe(Math.max(before, snapshot_version));
  });
});

/**
 * A snapshot version names one snapshot, forever, and a publish builds on
 * the newest snapshot only. When the current snapshot was put back to an
 * older one, or deleted (a restore gone wrong, an operator's mistake, an
 * attacker with bucket access), a publish is refused rather than signing
 * the older content anew, which would drop everything published since;
 * once the newest is current again, the next publish gets a version never
 * used before. An edge offered a different snapshot under a version it
 * already holds refuses it and says so, instead of calling it unchanged.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { bucket, currentSnapshot, edge, emptyBucket, plantSnapshot, publish } from "./harness";
import { CURRENT_SNAPSHOT_KEY, snapshotKey } from "../../src/bundles/store-layout";

beforeEach(emptyBucket);

describe("snapshot versions", () => {
  it("a publish on top of a current snapshot put back to an older one is refused, and nothing published since is dropped", async () => {
    const now = Date.now();
    await publish("global", { version: 1, nowMs: now });
    await publish("region:eu", { version: 1, nowMs: now });
    await publish("region:us", { version: 1, nowMs: now });
    expect((await currentSnapshot()).version).toBe(3);
    // Someone puts snapshot 1 (the global layer alone) back as the current one.
    const first = await (await bucket.get(snapshotKey(1)))!.text();
    await bucket.put(CURRENT_SNAPSHOT_KEY, first);
    expect((await currentSnapshot()).version).toBe(1);
    await expect(publish("region:apac", { version: 1, nowMs: now })).rejects.toMatchObject({ code: "snapshot_behind" });
    expect((await currentSnapshot()).version).toBe(1);
    expect(await bucket.head(snapshotKey(4))).toBeNull();
    // The newest snapshot put back: the publish goes through, on top of it, under a version never used.
    await bucket.put(CURRENT_SNAPSHOT_KEY, await (await bucket.get(snapshotKey(3)))!.text());
    const next = await publish("region:apac", { version: 1, nowMs: now });
    expect(next.snapshot_version).toBe(4);
    expect(Object.keys((await currentSnapshot()).layers).sort()).toEqual(["global", "region:apac", "region:eu", "region:us"]);
  });

  it("a publish after the current snapshot was deleted is refused, rather than starting the store again from nothing", async () => {
    const now = Date.now();
    await publish("global", { version: 1, nowMs: now });
    await publish("region:eu", { version: 1, nowMs: now });
    await bucket.delete(CURRENT_SNAPSHOT_KEY);
    await expect(publish("global", { version: 2, nowMs: now })).rejects.toMatchObject({ code: "snapshot_behind" });
    expect(await bucket.head(CURRENT_SNAPSHOT_KEY)).toBeNull();
  });

  it("an edge offered another snapshot under a version it holds records a conflict and never says unchanged", async () => {
    const now = Date.now();
    const published = await publish("global", { version: 1, nowMs: now });
    const eu = edge("eu");
    expect(await eu.store.refresh(now)).toBe("activated");
    const held = await currentSnapshot();
    // The same version number, signed again over other layer references.
    await plantSnapshot(held.version, { global: { version: 1, digest: published.digest }, "region:eu": { version: 1, digest: published.digest } }, now + 1);
    expect(await eu.store.refresh(now + 60_000)).toBe("refused");
    expect(eu.store.status(now + 60_000).conflicts[0]).toMatchObject({ code: "snapshot_version_reused", snapshot_version: held.version });
    // It keeps deciding on the snapshot it holds, flagged stale.
    expect(eu.store.resolve("acme", ["eu"], now + 60_000).stale).toBe(true);
  });
});

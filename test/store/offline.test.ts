/**
 * While the store is unreachable an edge keeps deciding on its last known
 * good policy and says so; past the maximum staleness (or a bundle's expiry)
 * the risk tier's fail mode is one more answer: critical and high deny with a
 * clear reason, medium and low are flagged and what the policy held allows is
 * allowed. A new isolate starts from the
 * last known good copy in the Cache API.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { bucket, edge, emptyBucket, publish, refund, ticketRead, T0 } from "./harness";

/** The real test bucket behind a switch: when down, every call fails like an unreachable store. */
function switchableBucket() {
  const state = { down: false };
  const proxy = new Proxy(bucket, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (state.down) return Promise.reject(new Error("R2 unreachable (network error)"));
        return value.apply(target, args);
      };
    },
  });
  return { bucket: proxy as R2Bucket, state };
}

beforeEach(async () => {
  await emptyBucket();
  await publish("global", { version: 1 });
  await publish("region:eu", { version: 1 });
});

describe("with the store unreachable", () => {
  it("an edge keeps deciding on last known good, flagged stale, until the staleness bound counted from the first failed check", async () => {
    const flaky = switchableBucket();
    const eu = edge("eu", { bucket: flaky.bucket, refreshIntervalMs: 30_000, maxStalenessMs: 300_000 });
    await eu.store.ensureLoaded(T0);
    flaky.state.down = true;
    const firstFailure = T0 + 60_000;
    expect(await eu.store.refresh(firstFailure)).toBe("unreachable");
    const within = await eu.decide(refund(300), firstFailure);
    expect(within).toMatchObject({ decision: "require_approval", stale: true });
    expect(within.layers).toContainEqual({ scope: "region:eu", version: 1 });
    // 299 s after the first failure (359 s after the last success) the bound is not reached yet.
    expect(await eu.decide(refund(100, "initech", "critical"), firstFailure + 299_000)).toMatchObject({ decision: "allow", stale: true });

    const past = firstFailure + 301_000;
    const critical = await eu.decide(refund(100, "initech", "critical"), past);
    expect(critical.decision).toBe("deny");
    expect(critical.rules).toEqual(["policy_stale"]);
    const high = await eu.decide(refund(100, "initech", "high"), past);
    expect(high.decision).toBe("deny");
    // A refund is high whatever is declared; a ticket read judged low or medium fails open.
    expect((await eu.decide(refund(100, "initech", "low"), past)).decision).toBe("deny");
    for (const tier of ["medium", "low"] as const) {
      const answer = await eu.decide(ticketRead("initech", tier), past);
      expect(answer).toMatchObject({ decision: "allow", stale: true, rules: ["policy_stale"] });
    }

    flaky.state.down = false;
    expect(await eu.store.refresh(past + 1_000)).toBe("unchanged");
    expect(await eu.decide(refund(100, "initech", "critical"), past + 1_000)).toMatchObject({ decision: "allow", stale: false });
  });

  it("an idle edge is not stale: the first decision after a long quiet asks the store, and decides on what it says", async () => {
    const eu = edge("eu", { refreshIntervalMs: 30_000, maxStalenessMs: 300_000 });
    await eu.store.ensureLoaded(T0);
    const afterAnHour = T0 + 3_600_000;
    expect(eu.store.mustCheckFirst(afterAnHour)).toBe(true);
    expect(await eu.store.refresh(afterAnHour)).toBe("unchanged");
    expect(eu.store.mustCheckFirst(afterAnHour)).toBe(false);
    expect(await eu.decide(refund(100, "initech", "critical"), afterAnHour)).toMatchObject({ decision: "allow", stale: false });
  });

  it("a current snapshot missing from a store that has published counts as unreachable, not as confirmed", async () => {
    const eu = edge("eu", { refreshIntervalMs: 30_000, maxStalenessMs: 300_000 });
    await eu.store.ensureLoaded(T0);
    await bucket.delete("snapshots/current.json");
    expect(await eu.store.refresh(T0 + 60_000)).toBe("unreachable");
    expect(eu.store.status(T0 + 60_000).conflicts[0]).toMatchObject({ code: "snapshot_missing" });
    expect(await eu.decide(refund(100, "initech", "critical"), T0 + 60_000 + 301_000)).toMatchObject({ decision: "deny", rules: ["policy_stale"] });
    // A new isolate with no cache does not fall back to the baseline either: the store's history says it published.
    const cold = edge("eu", { refreshIntervalMs: 30_000, maxStalenessMs: 300_000 });
    await cold.store.ensureLoaded(T0 + 61_000);
    expect(cold.store.status(T0 + 61_000).last_outcome).toBe("unreachable");
  });

  it("a new isolate starts from the last known good copy in the Cache API", async () => {
    const first = edge("eu", { cacheKey: "lkg-shared-eu" });
    await first.store.ensureLoaded(T0);
    const flaky = switchableBucket();
    flaky.state.down = true;
    const coldStart = edge("eu", { bucket: flaky.bucket, cacheKey: "lkg-shared-eu" });
    await coldStart.store.ensureLoaded(T0 + 1_000);
    const answer = await coldStart.decide(refund(300), T0 + 1_000);
    expect(answer.layers).toEqual([{ scope: "global", version: 1 }, { scope: "region:eu", version: 1 }]);
    expect(answer.decision).toBe("require_approval");
    expect(answer.stale).toBe(true);
  });

  it("with nothing cached and no store, the baseline compiled into the deploy decides", async () => {
    const flaky = switchableBucket();
    flaky.state.down = true;
    const cold = edge("eu", { bucket: flaky.bucket });
    await cold.store.ensureLoaded(T0);
    const answer = await cold.decide(refund(300), T0);
    expect(answer.layers).toEqual([{ scope: "global", version: 0 }]);
    expect(answer.decision).toBe("allow");
  });
});

describe("expiry", () => {
  it("a layer past its expiry makes the tier's fail mode apply", async () => {
    await publish("region:eu", { version: 2, expiresInMs: 3_600_000 });
    const eu = edge("eu", { maxStalenessMs: 10 * 86_400_000 });
    await eu.store.refresh(T0);
    expect((await eu.decide(refund(300), T0 + 1_000)).decision).toBe("require_approval");
    const later = T0 + 2 * 3_600_000;
    expect(await eu.decide(refund(10, "initech", "critical"), later)).toMatchObject({ decision: "deny", rules: ["policy_expired"] });
    expect(await eu.decide(ticketRead("initech", "low"), later)).toMatchObject({ decision: "allow", rules: ["policy_expired"] });
  });

  it("a layer kept from the last activation is still checked for expiry: a new snapshot that binds it expired is taken, and the expired layer still decides nothing alone", async () => {
    await publish("region:eu", { version: 2, expiresInMs: 3_600_000 });
    const eu = edge("eu", { maxStalenessMs: 10 * 86_400_000 });
    await eu.store.refresh(T0);
    const later = T0 + 2 * 3_600_000;
    // Another scope's publish binds the eu layer unchanged, now past its expiry: that scope's update is not held back.
    await publish("region:us", { version: 3, nowMs: later });
    expect(await eu.store.refresh(later)).toBe("activated");
    expect(eu.store.status(later).layers).toContainEqual(expect.objectContaining({ scope: "region:us", version: 3 }));
    expect(await eu.decide(refund(10, "initech", "critical"), later)).toMatchObject({ decision: "deny", rules: ["policy_expired"] });
  });

  it("an unexpired tenant layer stays usable beside another tenant's expired one", async () => {
    await publish("tenant:acme", { version: 2, expiresInMs: 3_600_000 });
    await publish("tenant:globex", { version: 3 });
    const eu = edge("eu", { maxStalenessMs: 10 * 86_400_000 });
    await eu.store.refresh(T0);
    const later = T0 + 2 * 3_600_000;
    expect(await eu.decide(ticketRead("acme", "low"), later)).toMatchObject({ rules: ["policy_expired"] });
    expect((await eu.decide(ticketRead("globex", "low"), later)).rules).not.toContain("policy_expired");
  });
});

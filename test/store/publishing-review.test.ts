/**
 * What a region or tenant publisher, or someone who can write to the bucket
 * without a signing key, can make of publishing and distribution: nothing
 * beyond their own scope, and no decision looser than the layers above
 * theirs would give.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { publishLayer } from "../../src/bundles/publisher";
import { publishRollout } from "../../src/rollout/publish-rollout";
import { CURRENT_SNAPSHOT_KEY, layerKey, rolloutKey, SNAPSHOT_HIGH_WATER_KEY, snapshotKey } from "../../src/bundles/store-layout";
import type { BundleError } from "../../src/bundles/verify";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin } from "../session/helpers";
import { bucket, currentSnapshot, edge, emptyBucket, layerFiles, plantLayer, plantSnapshot, publish, publishContext, refund, signLayer, signRollout, T0, type DecisionInput } from "./harness";

beforeEach(emptyBucket);

const MINUTE = 60_000;

/** A low-tier tool the global layer refuses to a role whose tools do not include it. */
function ticketReadByResearcher(tenant: string): DecisionInput {
  return { risk_tier: "low", tenant, agent: { id: "agent-7", role: "researcher" }, session: { id: "s-1" }, action: { type: "tool_call", tool: "tickets.read", args: { id: "T-1" } } };
}

describe("a tenant layer its publisher lets expire", () => {
  it("does not hold back the snapshot for every other tenant and region: a new isolate still takes the EU layer", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    // A tenant publisher signs its own layer to expire a minute after it is published.
    await publish("tenant:acme", { version: 2, expiresInMs: MINUTE });
    const later = T0 + 10 * MINUTE;
    const cold = edge("eu");
    await cold.store.ensureLoaded(later);
    const answer = await cold.decide(refund(300, "initech"), later);
    expect(answer.layers).toEqual([{ scope: "global", version: 1 }, { scope: "region:eu", version: 1 }]);
    expect(answer.decision).toBe("require_approval");
  });

  it("does not hold back a later publish of another scope from edges that hold the snapshot", async () => {
    await publish("global", { version: 1 });
    await publish("tenant:acme", { version: 2, expiresInMs: MINUTE });
    const eu = edge("eu");
    expect(await eu.store.refresh(T0)).toBe("activated");
    const later = T0 + 10 * MINUTE;
    await publish("region:eu", { version: 1, nowMs: later });
    await eu.store.refresh(later);
    expect((await eu.decide(refund(300, "initech"), later)).decision).toBe("require_approval");
  });

  it("leaves the global rules in force for its own tenant: a fail-open tier is not an allow the global layer refuses", async () => {
    await publish("global", { version: 1 });
    await publish("tenant:acme", { version: 2, expiresInMs: MINUTE });
    const eu = edge("eu", { maxStalenessMs: 10 * 86_400_000 });
    expect(await eu.store.refresh(T0)).toBe("activated");
    expect((await eu.decide(ticketReadByResearcher("acme"), T0)).decision).toBe("deny");
    const answer = await eu.decide(ticketReadByResearcher("acme"), T0 + 10 * MINUTE);
    expect(answer.decision).toBe("deny");
    expect(answer.rules).toContain("policy_expired");
  });
});

/** The bucket, except that the first read of `key` waits for `gate` before it answers. */
function pausedAfterReading(inner: R2Bucket, key: string, gate: Promise<unknown>): R2Bucket {
  let paused = false;
  return new Proxy(inner, {
    get(target, property) {
      if (property === "get") {
        return async (asked: string, options?: R2GetOptions) => {
          const object = await target.get(asked, options);
          if (asked === key && !paused) {
            paused = true;
            await gate;
          }
          return object;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("two publishes of the same layer version at once", () => {
  it("cannot leave the store holding other files than the snapshot binds, which every edge would refuse with every later snapshot", async () => {
    await publish("global", { version: 1 });
    const eu = edge("eu");
    expect(await eu.store.refresh(T0)).toBe("activated");
    // A tenant publisher sends two different bundles for the same version: the second has read the
    // snapshot before the first is committed, and writes its files after.
    const first = await signLayer("tenant:acme", { version: 3 });
    const second = await signLayer("tenant:acme", { version: 3, files: layerFiles("tenant:globex") });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const late = publishLayer({ ...publishContext(), bucket: pausedAfterReading(bucket, CURRENT_SNAPSHOT_KEY, gate) }, "tenant:acme", second.manifest, second.files).then(
      () => "published",
      (error: BundleError) => error.code,
    );
    await publishLayer(publishContext(), "tenant:acme", first.manifest, first.files);
    release();
    expect(await late).not.toBe("published");
    // Whatever else is published later reaches the edges.
    await publish("region:eu", { version: 1, nowMs: T0 + MINUTE });
    expect(await eu.store.refresh(T0 + MINUTE)).toBe("activated");
    expect(eu.store.status(T0 + MINUTE).layers).toContainEqual({ scope: "tenant:acme", version: 3, digest: first.manifest.document.digest });
  });
});

describe("someone who can write to the bucket, without a signing key", () => {
  it("cannot turn what the policy held refuses into an allow by keeping edges from the store past the staleness bound", async () => {
    await publish("global", { version: 1 });
    const eu = edge("eu", { refreshIntervalMs: 30_000, maxStalenessMs: 300_000 });
    await eu.store.ensureLoaded(T0);
    expect((await eu.decide(ticketReadByResearcher("initech"), T0)).decision).toBe("deny");
    await bucket.delete(CURRENT_SNAPSHOT_KEY);
    expect(await eu.store.refresh(T0 + MINUTE)).toBe("unreachable");
    const past = T0 + MINUTE + 301_000;
    const answer = await eu.decide(ticketReadByResearcher("initech"), past);
    expect(answer).toMatchObject({ decision: "deny", stale: true });
    expect(answer.rules).toContain("policy_stale");
    // An action the policy allows is still decided by the tier's fail mode: a critical one is refused.
    expect(await eu.decide(refund(100, "initech", "critical"), past)).toMatchObject({ decision: "deny", rules: ["policy_stale"] });
  });
});

describe("the bundle view, for a token over one tenant", () => {
  it("names no other scope's rollout: another tenant's name, version and digest are not its business", async () => {
    const { manifest, files } = await signLayer("global", { version: Date.now(), nowMs: Date.now() });
    const encoded = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    expect((await admin("/bundles/global", TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest, files: encoded }) })).status).toBe(201);
    const rollout = await signRollout("tenant:acme", { version: Date.now(), mode: "observe" });
    expect((await admin("/rollout/tenant:acme", TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ rollout }) })).status).toBe(201);
    const view = await admin("/bundles", TEST_TOKENS.initechEverything);
    expect(view.status).toBe(200);
    const { snapshot } = await view.json<{ snapshot: { layers: Record<string, unknown>; rollout?: Record<string, unknown> } }>();
    expect(Object.keys(snapshot.layers)).toEqual([]);
    expect(Object.keys(snapshot.rollout ?? {})).toEqual([]);
  });
});

describe("two publishes of different scopes at once", () => {
  it("leave in the history under each version the snapshot that was made current, never the one that lost", async () => {
    await publish("global", { version: 1 });
    const before = await currentSnapshot();
    // An EU publish has checked the high-water mark when a tenant's publish overtakes it and is made current.
    const eu = await signLayer("region:eu", { version: 1 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const late = publishLayer({ ...publishContext(), bucket: pausedAfterReading(bucket, SNAPSHOT_HIGH_WATER_KEY, gate) }, "region:eu", eu.manifest, eu.files).then(
      () => "published",
      (error: BundleError) => error.code,
    );
    const won = await publish("tenant:acme", { version: 2 });
    release();
    expect(await late).toBe("version_not_newer");
    expect(won.snapshot_version).toBe(before.version + 1);
    const current = await (await bucket.get(CURRENT_SNAPSHOT_KEY))!.text();
    const kept = await (await bucket.get(snapshotKey(won.snapshot_version)))!.text();
    // Put back from the history, it would be refused by every edge that holds the one made current
    // (another snapshot under a version it holds), and would drop the tenant's layer for any other.
    expect(JSON.parse(kept)).toEqual(JSON.parse(current));
  });
});

describe("objects someone with bucket access makes too large to read", () => {
  it("a current snapshot past its bound is refused unread, and the edge keeps deciding on the one it holds", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const eu = edge("eu");
    expect(await eu.store.refresh(T0)).toBe("activated");
    const signed = await (await bucket.get(CURRENT_SNAPSHOT_KEY))!.json<Record<string, unknown>>();
    await bucket.put(CURRENT_SNAPSHOT_KEY, JSON.stringify({ ...signed, padding: "x".repeat(9 * 1024 * 1024) }));
    expect(await eu.store.refresh(T0 + MINUTE)).toBe("refused");
    expect(eu.store.conflicts[0]).toMatchObject({ code: "too_large" });
    expect(eu.store.conflicts[0].message).toContain(CURRENT_SNAPSHOT_KEY);
    expect((await eu.decide(refund(300), T0 + MINUTE)).decision).toBe("require_approval");
  });

  it("a layer manifest past its bound is refused unread: the snapshot naming it is not taken", async () => {
    await publish("global", { version: 1 });
    await publish("region:eu", { version: 1 });
    const eu = edge("eu");
    expect(await eu.store.refresh(T0)).toBe("activated");
    const { manifest, files } = await signLayer("region:eu", { version: 2 });
    await plantLayer("region:eu", 2, manifest, files);
    const key = layerKey("region:eu", 2, "manifest.json");
    await bucket.put(key, JSON.stringify({ ...manifest, padding: "x".repeat(2 * 1024 * 1024) }));
    const snapshot = await currentSnapshot();
    await plantSnapshot(snapshot.version + 1, { ...snapshot.layers, "region:eu": { version: 2, digest: manifest.document.digest } });
    expect(await eu.store.refresh(T0 + MINUTE)).toBe("refused");
    expect(eu.store.conflicts[0]).toMatchObject({ code: "too_large" });
    expect(eu.store.conflicts[0].message).toContain(key);
    expect((await eu.decide(refund(300), T0 + MINUTE)).layers).toContainEqual({ scope: "region:eu", version: 1 });
  });
});

describe("two rollout documents of one version", () => {
  it("cannot both be written: the second is refused, so the snapshot never binds a digest its stored document does not have", async () => {
    await publish("global", { version: 1 });
    const first = await signRollout("region:eu", { version: 7, mode: "observe" }, "eu-rollout-test");
    const second = await signRollout("region:eu", { version: 7, mode: "enforce" }, "eu-rollout-test");
    // The first publish wrote its document and then lost the snapshot's conditional write to another scope's publish.
    await bucket.put(rolloutKey("region:eu", 7), JSON.stringify(first));
    const refusal = await publishRollout(publishContext(), "region:eu", second).catch((error: BundleError) => error);
    expect(refusal).toMatchObject({ code: "version_not_newer" });
    expect(await (await bucket.get(rolloutKey("region:eu", 7)))!.json()).toEqual(first);
    // The first, sent again as it was, goes on.
    expect(await publishRollout(publishContext(), "region:eu", first)).toMatchObject({ version: 7, mode: "observe" });
  });
});

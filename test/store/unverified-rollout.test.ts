/**
 * A rollout document the snapshot binds but that does not verify (its
 * object overwritten in the bucket, or its key revoked since) makes its own
 * scope enforce: it never hands its place to a less specific scope's
 * document, which may be in observe mode.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { rolloutKey } from "../../src/bundles/store-layout";
import { publishRollout } from "../../src/rollout/publish-rollout";
import { modeFor } from "../../src/rollout/mode";
import { bucket, edge, emptyBucket, publish, publishContext, signRollout, T0 } from "./harness";

const scopesOf = (tenant: string) => [`tenant:${tenant}`, "region:eu", "global"];

beforeEach(async () => {
  await emptyBucket();
  await publish("global", { version: 1 });
  await publish("region:eu", { version: 1 });
  expect(await publishRollout(publishContext(), "global", await signRollout("global", { version: 1, mode: "observe" }))).toMatchObject({ version: 1 });
  expect(await publishRollout(publishContext(), "tenant:initech", await signRollout("tenant:initech", { version: 1, mode: "enforce" }))).toMatchObject({ version: 1 });
});

describe("a rollout document that does not verify", () => {
  it("leaves its scope enforcing, above a less specific scope in observe mode", async () => {
    await bucket.put(rolloutKey("tenant:initech", 1), JSON.stringify({ document: { scope: "tenant:initech", mode: "observe" }, signature: "AAAA" }));
    const eu = edge("eu");
    expect(await eu.store.refresh(T0)).toBe("activated");
    expect(eu.store.conflicts.map((conflict) => conflict.message).join("\n")).toContain("tenant:initech enforces");
    const data = eu.store.resolve("initech", ["eu"], T0).policy.data;
    // The global document's observe mode is in force: a tenant with no document of its own is observed.
    expect(modeFor(eu.store.rolloutsFor(scopesOf("hooli")), "low", data)).toMatchObject({ mode: "observe", scope: "global" });
    // The tenant whose document did not verify is enforced, by its own scope.
    expect(modeFor(eu.store.rolloutsFor(scopesOf("initech")), "low", data)).toMatchObject({ mode: "enforce", scope: "tenant:initech" });
  });

  it("stands in only until the scope's next document, which is in force once it verifies", async () => {
    await bucket.put(rolloutKey("tenant:initech", 1), "not json");
    const eu = edge("eu");
    expect(await eu.store.refresh(T0)).toBe("activated");
    expect(eu.store.rolloutsFor(scopesOf("initech"))[0]).toMatchObject({ scope: "tenant:initech", mode: "enforce", key_id: "unverified" });
    expect(await publishRollout(publishContext(), "tenant:initech", await signRollout("tenant:initech", { version: 2, mode: "observe" }))).toMatchObject({ version: 2 });
    expect(await eu.store.refresh(T0 + 60_000)).toBe("activated");
    expect(eu.store.rolloutsFor(scopesOf("initech"))[0]).toMatchObject({ scope: "tenant:initech", mode: "observe", version: 2 });
  });
});

/**
 * The tamper matrix: whatever is wrong with a new snapshot or one of its
 * layers, the edge activates nothing and the previous policy keeps serving,
 * with the conflict logged under a code that says what was wrong.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { layerKey } from "../../src/bundles/store-layout";
import { bucket, currentSnapshot, edge, emptyBucket, layerFiles, plantLayer, plantSnapshot, publish, refund, signLayer, T0, type Edge } from "./harness";

let eu: Edge;

beforeEach(async () => {
  await emptyBucket();
  await publish("global", { version: 1 });
  await publish("region:eu", { version: 1 });
  eu = edge("eu");
  expect(await eu.store.refresh(T0)).toBe("activated");
});

/** Plants EU v2 (as given) and a snapshot that binds it, then asks the edge to refresh. */
async function offerEuV2(manifest: { document: { digest: string } }, files: Record<string, Uint8Array>, snapshotDigest = manifest.document.digest) {
  await plantLayer("region:eu", 2, manifest, files);
  const snapshot = await currentSnapshot();
  await plantSnapshot(snapshot.version + 1, { ...snapshot.layers, "region:eu": { version: 2, digest: snapshotDigest } });
  return eu.store.refresh(T0 + 60_000);
}

async function expectPreviousStillServing(code: string) {
  expect(eu.store.conflicts[0]?.code).toBe(code);
  const answer = await eu.decide(refund(300), T0 + 60_000);
  expect(answer.layers).toEqual([{ scope: "global", version: 1 }, { scope: "region:eu", version: 1 }]);
  expect(answer.decision).toBe("require_approval");
  expect(answer.stale).toBe(true);
}

describe("a tampered bundle activates nothing", () => {
  it("a flipped byte in the wasm", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2 });
    const wasm = files["policy.wasm"].slice();
    wasm[wasm.length >> 1] ^= 0xff;
    expect(await offerEuV2(manifest, { ...files, "policy.wasm": wasm })).toBe("refused");
    await expectPreviousStillServing("digest_mismatch");
  });

  it("an extra file beside the layer", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2 });
    await bucket.put(layerKey("region:eu", 2, "backdoor.rego"), "package tollgate");
    expect(await offerEuV2(manifest, files)).toBe("refused");
    await expectPreviousStillServing("extra_file");
  });

  it("an extra file beside the layer named like Object.prototype's members", async () => {
    for (const name of ["__proto__", "constructor"]) {
      await emptyBucket();
      await publish("global", { version: 1 });
      await publish("region:eu", { version: 1 });
      eu = edge("eu");
      expect(await eu.store.refresh(T0)).toBe("activated");
      const { manifest, files } = await signLayer("region:eu", { version: 2 });
      await bucket.put(layerKey("region:eu", 2, name), "package tollgate");
      expect(await offerEuV2(manifest, files), name).toBe("refused");
      await expectPreviousStillServing("extra_file");
    }
  });

  it("a missing file", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2 });
    const { "data.json": _dropped, ...rest } = files;
    expect(await offerEuV2(manifest, rest)).toBe("refused");
    await expectPreviousStillServing("missing_file");
  });

  it("a manifest signed for another scope", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2, scope: "region:us", keyId: "us-test" });
    expect(await offerEuV2(manifest, files)).toBe("refused");
    await expectPreviousStillServing("scope_mismatch");
  });

  it("a regional key signing another region's layer", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2, keyId: "us-test" });
    expect(await offerEuV2(manifest, files)).toBe("refused");
    await expectPreviousStillServing("key_not_allowed_for_scope");
  });

  it("an unknown key", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2 });
    const forged = { ...manifest, document: { ...manifest.document, key_id: "eu-unknown" } };
    expect(await offerEuV2(forged, files)).toBe("refused");
    await expectPreviousStillServing("unknown_key");
  });

  it("a revoked key", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2, keyId: "revoked-test" });
    expect(await offerEuV2(manifest, files)).toBe("refused");
    await expectPreviousStillServing("revoked_key");
  });

  it("a mixed snapshot: the layer in the store is not the one the snapshot binds", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2 });
    const other = await signLayer("region:eu", { version: 2, files: layerFiles("region:us") });
    expect(await offerEuV2(manifest, files, other.manifest.document.digest)).toBe("refused");
    await expectPreviousStillServing("snapshot_mismatch");
  });

  it("an untouched bundle activates, after all the refusals", async () => {
    const { manifest, files } = await signLayer("region:eu", { version: 2 });
    expect(await offerEuV2(manifest, files)).toBe("activated");
    expect((await eu.decide(refund(300), T0 + 60_000)).layers).toContainEqual({ scope: "region:eu", version: 2 });
  });
});

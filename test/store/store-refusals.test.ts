/**
 * The bundle store's admin API never answers a 500: an upload whose files
 * are not base64url is a 400 (and a refused publish, on the record), and a
 * stored object that does not parse is a 502 `store_corrupt` naming the
 * object an operator has to restore.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { CURRENT_SNAPSHOT_KEY, layerKey, PUBLISH_LOG_PREFIX } from "../../src/bundles/store-layout";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { admin } from "../session/helpers";
import { signLayer } from "./harness";

const store = env.BUNDLES;
const planted: string[] = [];

/** Writes an object into the Worker's store for this test only; afterEach removes it. */
async function plant(key: string, body: string): Promise<void> {
  planted.push(key);
  await store.put(key, body);
}

afterEach(async () => {
  if (planted.length > 0) await store.delete(planted.splice(0));
});

async function uploadBody(scope: string, version: number, files?: Record<string, string>): Promise<string> {
  const signed = await signLayer(scope, { version, nowMs: Date.now() });
  const encoded = files ?? Object.fromEntries(Object.entries(signed.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  return JSON.stringify({ manifest: signed.manifest, files: encoded });
}

async function publishLog(): Promise<Array<{ actor: string; scope: string; outcome: string; code?: string; reason?: string }>> {
  const listed = await store.list({ prefix: PUBLISH_LOG_PREFIX });
  return Promise.all(listed.objects.map(async (object) => (await store.get(object.key))!.json()));
}

describe("an upload whose files are not base64url", () => {
  it("is refused with 400 at publish, and the refusal is in the publish log", async () => {
    const body = await uploadBody("region:eu", 41, { "policy.wasm": "not base64 at all!", "data.json": "e30" });
    const response = await admin("/bundles/region:eu", TEST_TOKENS.euPublisher, { method: "PUT", body });
    expect(response.status).toBe(400);
    const { error } = await response.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe("invalid_bundle");
    expect(error.message).toContain("files.policy.wasm");
    expect(await publishLog()).toContainEqual(expect.objectContaining({ actor: "eu-compliance", scope: "region:eu", outcome: "refused", code: "invalid_bundle" }));
  });

  it("is refused with 400 when attached as a shadow candidate", async () => {
    // One character short of a whole byte: no base64 decoder can read it.
    const body = await uploadBody("region:eu", 42, { "policy.wasm": "AAAAA", "data.json": "e30" });
    const response = await admin("/shadow/region:eu", TEST_TOKENS.euPublisher, { method: "PUT", body });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: "invalid_bundle" } });
  });
});

describe("a corrupt object in the store", () => {
  it("the current snapshot: the store's view answers 502 store_corrupt naming it, and a publish is refused on the record", async () => {
    await plant(CURRENT_SNAPSHOT_KEY, '{"document": {"version": 3,');
    const view = await admin("/bundles", TEST_TOKENS.operator);
    expect(view.status).toBe(502);
    const { error } = await view.json<{ error: { code: string; message: string } }>();
    expect(error).toMatchObject({ code: "store_corrupt" });
    expect(error.message).toContain(CURRENT_SNAPSHOT_KEY);

    const publish = await admin("/bundles/region:eu", TEST_TOKENS.euPublisher, { method: "PUT", body: await uploadBody("region:eu", 43) });
    expect(publish.status).toBe(502);
    expect(await publish.json()).toMatchObject({ error: { code: "store_corrupt" } });
    expect(await publishLog()).toContainEqual(expect.objectContaining({ actor: "eu-compliance", scope: "region:eu", outcome: "refused", code: "store_corrupt" }));
  });

  it("the current snapshot signed by no trusted key: 502 store_corrupt, not a 4xx the caller could fix", async () => {
    await plant(CURRENT_SNAPSHOT_KEY, JSON.stringify({ document: { version: 1, key_id: "nobody" }, signature: "AAAA" }));
    const view = await admin("/bundles", TEST_TOKENS.operator);
    expect(view.status).toBe(502);
    const { error } = await view.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe("store_corrupt");
    expect(error.message).toContain(CURRENT_SNAPSHOT_KEY);
  });

  it("the current snapshot signed by no trusted key: every route that reads it answers 502 store_corrupt, and a publish is refused on the record", async () => {
    await plant(CURRENT_SNAPSHOT_KEY, JSON.stringify({ document: { version: 1, key_id: "nobody" }, signature: "AAAA" }));
    const calls: Array<[string, string, RequestInit]> = [
      ["publish", "/bundles/region:eu", { method: "PUT", body: await uploadBody("region:eu", 45) }],
      ["shadow upload", "/shadow/region:eu", { method: "PUT", body: await uploadBody("region:eu", 46) }],
      ["rollout in force", "/rollout/region:eu", {}],
      ["shadow report", "/shadow/region:eu/report", {}],
    ];
    for (const [what, path, init] of calls) {
      const response = await admin(path, TEST_TOKENS.operator, init);
      expect(response.status, what).toBe(502);
      const { error } = await response.json<{ error: { code: string; message: string } }>();
      expect(error.code, what).toBe("store_corrupt");
      expect(error.message, what).toContain(CURRENT_SNAPSHOT_KEY);
    }
    expect(await publishLog()).toContainEqual(expect.objectContaining({ actor: "platform-oncall", scope: "region:eu", outcome: "refused", code: "store_corrupt" }));
  });

  it("the current snapshot past its size bound: 502 store_corrupt naming it, the body never parsed", async () => {
    // Valid JSON, had it been read: the bound is what refuses it.
    await plant(CURRENT_SNAPSHOT_KEY, JSON.stringify({ document: { version: 1, key_id: "nobody" }, signature: "AAAA", padding: "x".repeat(9 * 1024 * 1024) }));
    const view = await admin("/bundles", TEST_TOKENS.operator);
    expect(view.status).toBe(502);
    const { error } = await view.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe("store_corrupt");
    expect(error.message).toContain(CURRENT_SNAPSHOT_KEY);
    expect(error.message).toContain("bytes");
  });

  it("a published layer's manifest: reading that version answers 502 store_corrupt naming the object", async () => {
    const key = layerKey("region:eu", 44, "manifest.json");
    await plant(key, "\u0000\u0001 not json");
    const response = await admin("/bundles/region:eu/44", TEST_TOKENS.operator);
    expect(response.status).toBe(502);
    const { error } = await response.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe("store_corrupt");
    expect(error.message).toContain(key);
  });
});

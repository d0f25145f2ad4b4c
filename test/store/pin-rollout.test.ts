/**
 * A tenant's residency pin and the rollout documents that set its mode. A
 * pinned tenant working from another region is governed by both regions'
 * layers, so by both regions' documents: its requests are observed only if
 * both say observe. A tenant publisher, holding a layer key and no rollout
 * key, so cannot take its tenant out of enforcement by pinning it to a
 * region whose compliance team is trialling observe mode.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentKey } from "../identity/credentials";
import { admin, uniqueId } from "../session/helpers";
import { layerFiles, signLayer, signRollout } from "./harness";

const FROM_THE_US = { country: "US", continent: "NA" };

async function publishLayer(scope: string, version: number, files?: Record<string, Uint8Array>): Promise<void> {
  const signed = await signLayer(scope, { version, nowMs: Date.now(), ...(files ? { files } : {}) });
  const encoded = Object.fromEntries(Object.entries(signed.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  const response = await admin(`/bundles/${scope}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest: signed.manifest, files: encoded }) });
  expect(response.status, await response.clone().text()).toBe(201);
}

async function refresh(): Promise<void> {
  expect((await admin("/refresh", TEST_TOKENS.operator, { method: "POST" })).status).toBe(200);
}

/** globex's own layer, without its residency pin. */
function unpinnedGlobex(): Record<string, Uint8Array> {
  const files = layerFiles("tenant:globex");
  const data = JSON.parse(new TextDecoder().decode(files["data.json"]));
  delete data.tollgate.residency;
  return { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) };
}

async function refundFromTheUs(tenant: string, amount: number): Promise<Record<string, any>> {
  const key = await agentKey({ tenant, agent: "agent-7", role: "finance" });
  const request = new Request("http://edge/v1/decide", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ session: { id: uniqueId("s") }, action: { type: "tool_call", tool: "payments.refund", args: { amount, currency: "USD" } } }),
    cf: FROM_THE_US,
  } as RequestInit);
  const response = await exports.default.fetch(request);
  expect(response.status).toBe(200);
  return response.json();
}

const version = Date.now();

beforeAll(async () => {
  for (const scope of ["global", "region:eu", "region:us"]) await publishLayer(scope, version);
  await publishLayer("tenant:globex", version, unpinnedGlobex());
  // The EU compliance team trials a change: region:eu observes.
  const rollout = await admin("/rollout/region:eu", TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ rollout: await signRollout("region:eu", { version, mode: "observe" }, "eu-rollout-test") }) });
  expect(rollout.status, await rollout.clone().text()).toBe(201);
  await refresh();
});

describe("a tenant publisher's residency pin and another region's observe mode", () => {
  it("do not take the tenant's requests from an enforcing region out of enforcement", async () => {
    // Before: globex, unpinned, calling from the US, is enforced. The global hard cap (5,000) denies.
    const before = await refundFromTheUs("globex", 99_999);
    expect(before).toMatchObject({ decision: "deny", mode: "enforce", edge: { region: "us" } });

    // The tenant's publisher signs and publishes its own layer with a pin to the EU: a layer key, no rollout key.
    await publishLayer("tenant:globex", version + 1);
    await refresh();

    const after = await refundFromTheUs("globex", 99_999);
    // The US layer still governs the request (its layer is in the composition)...
    expect(after.edge).toMatchObject({ region: "eu", region_source: "tenant_pin", located_region: "us" });
    // ...and so does its rollout: the US enforces, so the request is enforced.
    expect({ decision: after.decision, mode: after.mode }).toEqual({ decision: "deny", mode: "enforce" });
  });
});

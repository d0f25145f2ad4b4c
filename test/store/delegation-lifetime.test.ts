/**
 * A layer that sets `delegation.credential_ttl_s` to 0 gives sub-agents no
 * time at all: a spawn is refused (`delegation_disabled`) and no credential
 * given, rather than one of the 900 s the edge uses only where policy names
 * no lifetime.
 */
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { toBase64Url } from "../../src/bundles/signature";
import { TEST_TOKENS } from "../fixtures/test-config";
import { agentKey } from "../identity/credentials";
import { admin, uniqueId } from "../session/helpers";
import { layerFiles, signLayer } from "./harness";

async function publishLayer(scope: string, version: number, files?: Record<string, Uint8Array>): Promise<void> {
  const signed = await signLayer(scope, { version, nowMs: Date.now(), ...(files ? { files } : {}) });
  const encoded = Object.fromEntries(Object.entries(signed.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
  const response = await admin(`/bundles/${scope}`, TEST_TOKENS.operator, { method: "PUT", body: JSON.stringify({ manifest: signed.manifest, files: encoded }) });
  expect(response.status, await response.clone().text()).toBe(201);
}

/** globex's own layer, unpinned, with sub-agent credentials that last `ttl` seconds. */
function globexWithTtl(ttl: number): Record<string, Uint8Array> {
  const files = layerFiles("tenant:globex");
  const data = JSON.parse(new TextDecoder().decode(files["data.json"]));
  delete data.tollgate.residency;
  data.tollgate.params.delegation.credential_ttl_s = ttl;
  return { ...files, "data.json": new TextEncoder().encode(JSON.stringify(data)) };
}

async function post(token: string, body: unknown): Promise<Response> {
  return exports.default.fetch("http://edge/v1/decide", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  const version = Date.now();
  await publishLayer("global", version);
  await publishLayer("tenant:globex", version, globexWithTtl(0));
  expect((await admin("/refresh", TEST_TOKENS.operator, { method: "POST" })).status).toBe(200);
});

describe("a sub-agent credential's lifetime from policy", () => {
  it("of 0 s refuses the spawn and gives no credential", async () => {
    const parent = await agentKey({ tenant: "globex", agent: "lead-agent", role: "support" });
    const spawned = await (await post(parent, { session: { id: uniqueId("s") }, action: { type: "spawn_agent", spawn: { agent_id: "helper", role: "support", scopes: [] } } })).json<Record<string, any>>();
    expect(spawned.decision).toBe("deny");
    expect(spawned.reasons.map((r: { rule: string }) => r.rule)).toEqual(["delegation_disabled"]);
    expect(spawned.delegated_credential).toBeUndefined();
  });
});

/**
 * @module bench-publish
 * The bundle store under load, for `npm run bench`: decision latency at an
 * edge while new layers are being published and activated, next to the same
 * edge with no publish going on, and how long a publish takes to reach the
 * edge (publish acknowledged → the edge decides with the new version).
 * Keys and tokens are generated for the run and thrown away after it.
 */
import { adminCall } from "./admin-client.ts";
import { benchAdminToken, enrolAgents } from "./bench-agents.ts";
import { startEdge } from "./edge-server.ts";
import { buildLayer, withData, type BuiltLayer } from "./layer-build.ts";
import { runLoad } from "./load.ts";
import { generateKeyPair, signLayer } from "./signing.ts";
import { summarize, type Summary } from "./stats.ts";
import { toBase64Url } from "../../src/bundles/signature.ts";

export interface PublishBench {
  quiet: Summary;
  duringPublish: Summary;
  publishes: number;
  reachMs: number[];
  /** A tenant's first decision after its own layer was activated (its sandbox warmed in the background), against its next ones. */
  tenantFirstMs: number[];
  tenantSteady: Summary;
}

/**
 * The layer with its refund approval threshold lowered by `n + 1` (a change
 * its bounds allow): new data, so a new digest, a new composition and a new
 * sandbox at the edge, as a real publish brings.
 */
async function variant(layer: BuiltLayer, n: number): Promise<BuiltLayer> {
  const data = JSON.parse(new TextDecoder().decode(layer.files["data.json"])) as { tollgate: { params: { refunds: { approval_threshold: number } } } };
  data.tollgate.params.refunds.approval_threshold -= n + 1;
  return withData(layer, data);
}

export async function benchPublish(bodies: Array<Record<string, unknown>>, requests: number, refreshSeconds = 1): Promise<PublishBench> {
  const globalKey = await generateKeyPair("bench-global");
  const euKey = await generateKeyPair("bench-eu");
  const snapshotKey = await generateKeyPair("bench-snapshot");
  const tenantKey = await generateKeyPair("bench-tenants");
  const { token, entry } = benchAdminToken();
  const trust = {
    keys: [
      { id: globalKey.id, public_key: globalKey.publicKey, scopes: ["global"] },
      { id: euKey.id, public_key: euKey.publicKey, scopes: ["region:eu"] },
      { id: snapshotKey.id, public_key: snapshotKey.publicKey, scopes: ["snapshot"] },
      { id: tenantKey.id, public_key: tenantKey.publicKey, scopes: ["tenant:*"] },
    ],
  };
  const edge = await startEdge({
    port: 18790,
    vars: {
      EDGE_REGION: "eu",
      SESSION_STATE: "off",
      AUDIT: "off",
      BUNDLE_REFRESH_SECONDS: String(refreshSeconds),
      TRUST_STORE: JSON.stringify(trust),
      ADMIN_TOKENS: JSON.stringify(entry),
      SNAPSHOT_KEY_ID: snapshotKey.id,
      SNAPSHOT_SIGNING_KEY: JSON.stringify(snapshotKey.privateJwk),
    },
  });
  const target = { url: edge.url.origin, token };
  let version = 1;
  const publish = async (scope: string, layer: BuiltLayer, key: typeof globalKey) => {
    const signed = await signLayer(layer.draft, key, { version: version++, nowMs: Date.now(), expiresInDays: 1 });
    const files = Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, toBase64Url(bytes)]));
    return adminCall<{ version: number }>(target, "PUT", `/bundles/${scope}`, { manifest: signed, files });
  };
  try {
    const global = await buildLayer("global");
    const eu = await buildLayer("region:eu");
    await publish("global", global, globalKey);
    await adminCall(target, "POST", "/refresh");
    const url = new URL("/v1/decide", edge.url);
    const calls = bodies.map(await enrolAgents(target, bodies));
    const quiet = await runLoad({ url, calls, concurrency: 1, requests, warmup: 200 });

    // Publish continuously while the same load runs; each publish activates a new snapshot at the edge.
    let publishing = true;
    let publishes = 0;
    const publisher = (async () => {
      while (publishing) {
        await publish("region:eu", await variant(eu, publishes), euKey);
        publishes++;
        await new Promise((r) => setTimeout(r, refreshSeconds * 1000));
      }
    })();
    const duringPublish = await runLoad({ url, calls, concurrency: 1, requests, warmup: 0 });
    publishing = false;
    await publisher;

    // Reach: from the publish being acknowledged to the edge answering with the new version.
    const reachMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const published = await publish("region:eu", await variant(eu, publishes + i), euKey);
      const started = performance.now();
      for (;;) {
        const response = await fetch(url, { method: "POST", headers: { ...calls[0].headers, "content-type": "application/json" }, body: calls[0].body });
        const body = (await response.json()) as { policy: { layers: Array<{ scope: string; version: number }> } };
        if (body.policy.layers.some((l) => l.scope === "region:eu" && l.version === published.version)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      reachMs.push(performance.now() - started);
    }
    // A tenant's first decision once its layer is active: the edge warmed its sandbox after the
    // swap, in the background, so the first decision should cost what the next ones do. It is
    // sent 300 ms after the refresh, inside half the refresh interval, so it measures the warmed
    // sandbox and not the store check an edge idle past its interval makes first. Meanwhile the
    // edge keeps answering (health checks, which enter no sandbox), as a location in use does: on
    // this machine a request that finds workerd idle for 300 ms pays 10-30 ms to wake it, whatever
    // it asks.
    const acme = await buildLayer("tenant:acme");
    const acmeCall = calls.find((call) => (JSON.parse(call.body) as { tenant?: string }).tenant === "acme") ?? calls[0];
    const decideAcme = async () => {
      const started = performance.now();
      const response = await fetch(url, { method: "POST", headers: { ...acmeCall.headers, "content-type": "application/json" }, body: acmeCall.body });
      await response.arrayBuffer();
      return performance.now() - started;
    };
    const health = new URL("/healthz", edge.url);
    const keepBusyFor = async (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) await (await fetch(health)).arrayBuffer();
    };
    const tenantFirstMs: number[] = [];
    const steady: number[] = [];
    for (let i = 0; i < 3; i++) {
      await publish("tenant:acme", await variant(acme, i), tenantKey);
      await adminCall(target, "POST", "/refresh");
      await keepBusyFor(300);
      tenantFirstMs.push(await decideAcme());
      for (let j = 0; j < 50; j++) steady.push(await decideAcme());
    }
    return { quiet, duringPublish, publishes, reachMs, tenantFirstMs, tenantSteady: summarize(steady, steady.reduce((a, b) => a + b, 0)) };
  } finally {
    await edge.dispose();
  }
}

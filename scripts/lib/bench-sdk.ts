/**
 * @module bench-sdk
 * The agent SDK's three ways to a decision, for `npm run bench`, each doing
 * the work its name claims, at concurrency 1:
 *
 * - a reused receipt: `check()` of an action the edge allowed with ttl_s,
 *   answered from the SDK's cache (hash of the action, lookup, expiry);
 * - a round trip: `check()` of an action that may not be reused, to an edge
 *   with the full path on (authentication, sandbox, session object, audit
 *   log, receipt), including the SDK's receipt verification;
 * - local evaluation: `check()` with the edge unreachable (every request
 *   refused at once, as by a closed port), answered by the last signed
 *   policy evaluated in-process and spooled to memory; and the evaluation
 *   alone, to show what the rest costs.
 *
 * The edge runs with a bundle store holding the signed global layer, keys
 * made for the run.
 */
import { createHash, randomBytes } from "node:crypto";
import { adminCall } from "./admin-client.ts";
import { startEdge } from "./edge-server.ts";
import { buildLayer } from "./layer-build.ts";
import { generateKeyPair, signLayer } from "./signing.ts";
import { summarize, type Summary } from "./stats.ts";
import { toBase64Url } from "../../src/bundles/signature.ts";

export interface SdkBench {
  cacheHit: Summary;
  roundTrip: Summary;
  offline: Summary;
  localEvaluation: Summary;
}

async function timed(iterations: number, warmup: number, work: (i: number) => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < warmup; i++) await work(i);
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await work(i);
    samples.push(performance.now() - t);
  }
  return summarize(samples, performance.now() - started);
}

export async function benchSdk(requests: number): Promise<SdkBench> {
  const { Tollgate } = await import("@tollgate/agent");
  const { localPolicy } = await import("@tollgate/agent/offline");
  const keys = { global: await generateKeyPair("bench-sdk-global"), snapshot: await generateKeyPair("bench-sdk-snapshot"), receipt: await generateKeyPair("bench-sdk-receipt"), audit: await generateKeyPair("bench-sdk-audit") };
  const token = `bench-${randomBytes(16).toString("hex")}`;
  const edge = await startEdge({
    port: 18795,
    vars: {
      TRUST_STORE: JSON.stringify({
        keys: [
          { id: keys.global.id, public_key: keys.global.publicKey, scopes: ["global"] },
          { id: keys.snapshot.id, public_key: keys.snapshot.publicKey, scopes: ["snapshot"] },
          { id: keys.receipt.id, public_key: keys.receipt.publicKey, scopes: ["receipt"] },
          { id: keys.audit.id, public_key: keys.audit.publicKey, scopes: ["audit"] },
        ],
      }),
      ADMIN_TOKENS: JSON.stringify({ [createHash("sha256").update(token).digest("hex")]: { subject: "bench", roles: ["publisher", "operator", "agent_admin"], scopes: ["*"] } }),
      SNAPSHOT_KEY_ID: keys.snapshot.id,
      SNAPSHOT_SIGNING_KEY: JSON.stringify(keys.snapshot.privateJwk),
      RECEIPT_KEY_ID: keys.receipt.id,
      RECEIPT_SIGNING_KEY: JSON.stringify(keys.receipt.privateJwk),
      AUDIT_KEY_ID: keys.audit.id,
      AUDIT_SIGNING_KEY: JSON.stringify(keys.audit.privateJwk),
    },
  });
  try {
    const admin = { url: edge.url.origin, token };
    const layer = await buildLayer("global");
    const signed = await signLayer(layer.draft, keys.global, { version: 1, nowMs: Date.now(), expiresInDays: 1 });
    await adminCall(admin, "PUT", "/bundles/global", { manifest: signed, files: Object.fromEntries(Object.entries(layer.files).map(([name, bytes]) => [name, toBase64Url(bytes)])) });
    await adminCall(admin, "POST", "/refresh");
    await adminCall(admin, "PUT", "/registry/bench-sdk/agents/helper", { owner: "bench@localhost", role: "researcher", max_risk_tier: "high", certified_until: new Date(Date.now() + 86_400_000).toISOString() });
    const { key } = await adminCall<{ key: string }>(admin, "POST", "/registry/bench-sdk/agents/helper/keys", {});

    const search = { type: "tool_call" as const, tool: "kb.search", args: { q: "refunds" } };
    const cached = new Tollgate({ url: edge.url.origin, credential: key, session: "bench-cache", offline: { spool: "memory" } });
    await cached.check(search, { tier: "low" });
    const cacheHit = await timed(requests, 200, async () => {
      const decision = await cached.check(search, { tier: "low" });
      if (decision.source !== "cache") throw new Error(`expected a reused receipt, got ${decision.source}`);
    });

    // A new session every 100 decisions keeps budgets from running out over the row.
    const online = new Tollgate({ url: edge.url.origin, credential: key, offline: { spool: "memory" } });
    const roundTrip = await timed(requests, 200, async (i) => {
      const decision = await online.check({ type: "tool_call", tool: "tickets.read", args: { id: `T-${i}` } }, { session: `bench-rt-${Math.floor(i / 100)}` });
      if (decision.source !== "edge") throw new Error(`expected the edge, got ${decision.source}`);
    });

    const policy = localPolicy();
    // The client's network, switched off once it holds the policy: every request is refused at once, as by a closed port.
    let unreachable = false;
    const network: typeof fetch = (input, init) => (unreachable ? Promise.reject(new TypeError("connect ECONNREFUSED")) : fetch(input, init));
    const disconnected = new Tollgate({ url: edge.url.origin, credential: key, session: "bench-offline", fetch: network, retries: 0, offline: { policy, spool: "memory" } });
    await disconnected.check(search, { tier: "low" });
    await disconnected.idle();
    const held = policy.held();
    if (!held) throw new Error("no signed policy was fetched");
    unreachable = true;
    const offline = await timed(requests, 200, async (i) => {
      const decision = await disconnected.check({ type: "tool_call", tool: "kb.search", args: { q: `q-${i}` } }, { tier: "low" });
      if (decision.source !== "offline") throw new Error(`expected a local decision, got ${decision.source} (${decision.rules.join(", ")})`);
    });
    const identity = (await online.transport.call<{ identity: never }>("POST", "/v1/decide", { body: { session: { id: "bench-id" }, action: search } })).body.identity;
    const localEvaluation = await timed(requests, 200, (i) =>
      held.evaluate({ identity, session: { id: "bench-eval", usage: {} }, action: { type: "tool_call", tool: "kb.search", args: { q: `q-${i}` } }, tier: "low", nowMs: Date.now() }),
    );
    return { cacheHit, roundTrip, offline, localEvaluation };
  } finally {
    await edge.dispose();
  }
}

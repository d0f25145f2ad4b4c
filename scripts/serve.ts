/**
 * @module serve
 * `npm start`: builds the policy and the Worker, then serves the edge on
 * 127.0.0.1:8787 (PORT to change it) from workerd, with authentication on.
 * The first run prepares a local configuration (signing keys, trust store,
 * an admin token: scripts/lib/local-config.ts) and registers a demo agent;
 * every run prints the admin token and the demo agent's key. State (bundles,
 * audit log, sessions, registry) persists under .wrangler/state between runs;
 * `npm start -- --fresh` starts from nothing.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { buildGlobalPolicy } from "./build-policies.ts";
import { buildSandbox } from "./build-sandbox.ts";
import { bundleEdge, startEdge } from "./lib/edge-server.ts";
import { localConfig, saveLocalConfig, type LocalConfig } from "./lib/local-config.ts";
import { OpaError } from "./lib/opa.ts";
import { ROOT } from "./toolchain.mjs";

const STATE = join(ROOT, ".wrangler", "state", "tollgate");
const DEMO = { tenant: "demo", agent: "demo-agent" };

/** The demo agent's key, registered afresh when the state no longer knows it (first run, --fresh). */
async function demoKey(origin: string, config: LocalConfig): Promise<string> {
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${origin}/v1/admin/registry/${DEMO.tenant}${path}`, {
      method,
      headers: { authorization: `Bearer ${config.admin_token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  if (config.demo) {
    const known = await call("GET", `/agents/${DEMO.agent}`);
    const view = known.ok ? ((await known.json()) as { keys: Array<{ key_id: string; revoked_at: string | null }> }) : undefined;
    if (view?.keys.some((k) => config.demo!.key.includes(`_${k.key_id}_`) && !k.revoked_at)) return config.demo.key;
  }
  const nextYear = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
  const registered = await call("PUT", `/agents/${DEMO.agent}`, { owner: "you@localhost", role: "finance", max_risk_tier: "high", certified_until: nextYear });
  if (!registered.ok) throw new Error(`registering the demo agent: ${registered.status} ${await registered.text()}`);
  const issued = await call("POST", `/agents/${DEMO.agent}/keys`, { label: "npm start" });
  if (!issued.ok) throw new Error(`minting the demo agent's key: ${issued.status} ${await issued.text()}`);
  const { key } = (await issued.json()) as { key: string };
  saveLocalConfig({ ...config, demo: { ...DEMO, key } });
  return key;
}

try {
  if (process.argv.includes("--fresh")) rmSync(STATE, { recursive: true, force: true });
  const { config, created } = await localConfig();
  if (created) console.log("tollgate: first run: wrote keys/, .dev.vars and .tollgate/local.json (all git-ignored)");
  const { digest } = await buildGlobalPolicy();
  await buildSandbox();
  bundleEdge();
  // A local edge may send alerts to, call MCP servers on and fetch provider keys from this machine; a deployed one only public endpoints.
  const edge = await startEdge({ port: Number(process.env.PORT ?? 8787), persistTo: STATE, vars: { ALERT_WEBHOOKS_TO_LOOPBACK: "on", MCP_UPSTREAMS_TO_LOOPBACK: "on", IDENTITY_JWKS_TO_LOOPBACK: "on" } });
  const key = await demoKey(edge.url.origin, config);
  console.log(`tollgate edge listening on ${edge.url.origin} (policy ${digest})`);
  console.log(`  admin token (TOLLGATE_TOKEN):          ${config.admin_token}`);
  console.log(`  console (sign in with the admin token): ${edge.url.origin}/console`);
  console.log(`  agent key of ${DEMO.tenant}/${DEMO.agent} (finance): ${key}`);
  const stop = async () => {
    await edge.dispose();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (error) {
  const message = error instanceof OpaError ? `${error.step} failed\n${error.output.trim()}` : (error as Error).message;
  console.error(`tollgate: cannot start: ${message}`);
  process.exit(1);
}

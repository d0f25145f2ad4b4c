/**
 * @module serve
 * `npm start`: builds the policy and the Worker, then serves the edge on
 * 127.0.0.1:8787 (PORT to change it) from workerd, with the default policy
 * active. State persists under .wrangler/state between runs.
 */
import { join } from "node:path";
import { buildGlobalPolicy } from "./build-policies.ts";
import { buildSandbox } from "./build-sandbox.ts";
import { bundleEdge, startEdge } from "./lib/edge-server.ts";
import { OpaError } from "./lib/opa.ts";
import { ROOT } from "./toolchain.mjs";

try {
  const { digest } = await buildGlobalPolicy();
  await buildSandbox();
  bundleEdge();
  const edge = await startEdge({
    port: Number(process.env.PORT ?? 8787),
    persistTo: join(ROOT, ".wrangler", "state", "tollgate"),
  });
  console.log(`tollgate edge listening on ${edge.url.origin} (policy ${digest})`);
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

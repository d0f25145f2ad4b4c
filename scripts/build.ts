/**
 * @module build
 * `npm run build`: everything the Worker imports that is generated — the
 * compiled global policy and the bundled sandbox program — and the agent
 * SDK's package (packages/agent/dist).
 */
import { buildAgentPackage } from "./build-agent.ts";
import { buildGlobalPolicy } from "./build-policies.ts";
import { buildSandbox } from "./build-sandbox.ts";
import { OpaError } from "./lib/opa.ts";

try {
  const { digest, tests } = await buildGlobalPolicy();
  console.log(`policies/global: ${tests} tests passed, built ${digest}`);
  const size = await buildSandbox();
  console.log(`sandbox: ${(size / 1024).toFixed(1)} KiB`);
  await buildAgentPackage();
  console.log("@tollgate/agent: packages/agent/dist");
} catch (error) {
  const message = error instanceof OpaError ? `${error.step} failed, no artifact written\n${error.output.trim()}` : (error as Error).message;
  console.error(`build failed: ${message}`);
  process.exit(1);
}

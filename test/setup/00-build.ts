/**
 * Global setup (Node): builds the global policy, the sandbox program and the
 * agent SDK's package before any test imports them, so tests always run
 * against what the sources say now. A policy that fails check or tests stops the run here, with OPA's
 * message.
 */
import { buildGlobalPolicy } from "../../scripts/build-policies.ts";
import { buildSandbox } from "../../scripts/build-sandbox.ts";
import { buildAgentPackage } from "../../scripts/build-agent.ts";

export default async function setup(): Promise<void> {
  await buildGlobalPolicy();
  await buildSandbox();
  await buildAgentPackage();
}

/**
 * Global setup (Node): builds the global policy and the sandbox program before
 * any test imports the Worker, so tests always run against what the sources
 * say now. A policy that fails check or tests stops the run here, with OPA's
 * message.
 */
import { buildGlobalPolicy } from "../../scripts/build-policies.ts";
import { buildSandbox } from "../../scripts/build-sandbox.ts";

export default async function setup(): Promise<void> {
  await buildGlobalPolicy();
  await buildSandbox();
}

/**
 * Global setup (Node): compiles test/fixtures/runaway, a policy that runs
 * away on demand, for the sandbox's deadline test.
 */
import type { TestProject } from "vitest/node";
import { opaBuildWasm } from "../../scripts/lib/opa.ts";

export default async function setup(project: TestProject): Promise<void> {
  const compiled = await opaBuildWasm("test/fixtures/runaway", "tollgate/decision");
  project.provide("runawayPolicy", { wasmBase64: Buffer.from(compiled.wasm).toString("base64"), data: compiled.data });
}

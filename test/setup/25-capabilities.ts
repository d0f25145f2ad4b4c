/**
 * Global setup (Node): asks the pinned OPA, during the run, which builtins
 * the edge must provide. It regenerates the builtin table from OPA's
 * capabilities and the host builtins as they are now (the committed table
 * must equal it), and compiles a policy calling every builtin the committed
 * capabilities allow: what that wasm imports is all the edge can ever be
 * asked for at decision time.
 */
import type { TestProject } from "vitest/node";
import { classifyBuiltins, EDGE_CAPABILITIES_PATH, hostBuiltinNames, opaCapabilities, probeHostBuiltins } from "../../scripts/lib/capabilities.ts";

export default async function setup(project: TestProject): Promise<void> {
  const capabilities = opaCapabilities();
  project.provide("edgeBuiltins", {
    regenerated: await classifyBuiltins(capabilities, await hostBuiltinNames()),
    importedUnderEdgeCapabilities: await probeHostBuiltins(capabilities, EDGE_CAPABILITIES_PATH),
  });
}

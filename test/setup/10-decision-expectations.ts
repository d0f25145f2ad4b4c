/**
 * Global setup (Node): asks the real `opa eval` what the global policy decides
 * for every scenario in test/fixtures/scenarios.json. The fidelity test sends
 * the same inputs through the edge and must get the same answers; nothing in
 * it is typed by hand.
 */
import { readFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { opaEvalMany } from "../../scripts/lib/opa.ts";

import type { Scenario } from "../provided.d.ts";

export default function setup(project: TestProject): void {
  const { scenarios } = JSON.parse(readFileSync("test/fixtures/scenarios.json", "utf8")) as {
    scenarios: Array<{ name: string; input: Record<string, unknown> }>;
  };
  const expected = opaEvalMany("policies/global", "tollgate/decision", scenarios.map((s) => s.input));
  const withExpectations: Scenario[] = scenarios.map((scenario, i) => ({ ...scenario, expected: expected[i] }));
  project.provide("decisionScenarios", withExpectations);
}

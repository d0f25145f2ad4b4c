/**
 * Global setup (Node): compiles test/fixtures/host-regex, a tenant's rules
 * on the regex builtins the edge runs in the host, and asks the real
 * `opa eval` what it decides for each input the test sends.
 */
import type { TestProject } from "vitest/node";
import { opaBuildWasm, opaEvalMany } from "../../scripts/lib/opa.ts";

export const HOST_REGEX_INPUTS = ["DROP TABLE customers", "truncate\ttable audit", "delete from users\n  ;", "grant\rall on db to x", "select 1", "alter table xy"];

export default async function setup(project: TestProject): Promise<void> {
  const compiled = await opaBuildWasm("test/fixtures/host-regex", "tollgate/decision");
  const expected = opaEvalMany("test/fixtures/host-regex", "tollgate/decision", HOST_REGEX_INPUTS.map((sql) => ({ action: { args: { sql } } })));
  project.provide("hostRegexPolicy", { wasmBase64: Buffer.from(compiled.wasm).toString("base64"), inputs: HOST_REGEX_INPUTS, expected });
}

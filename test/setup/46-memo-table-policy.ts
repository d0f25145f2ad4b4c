/**
 * Global setup (Node): compiles test/fixtures/memo-table, rules a broken
 * memo table would mix up (the same rules under `with` and outside it), and
 * asks the real `opa eval` what they evaluate to for each input the test sends.
 */
import type { TestProject } from "vitest/node";
import { opaBuildWasm, opaEvalMany } from "../../scripts/lib/opa.ts";

export const MEMO_TABLE_INPUTS = [{ x: 3 }, { x: 10 }, { x: -1 }, { x: 7 }];

export default async function setup(project: TestProject): Promise<void> {
  const compiled = await opaBuildWasm("test/fixtures/memo-table", "memo/result");
  const expected = opaEvalMany("test/fixtures/memo-table", "memo/result", MEMO_TABLE_INPUTS);
  project.provide("memoTablePolicy", { wasmBase64: Buffer.from(compiled.wasm).toString("base64"), inputs: MEMO_TABLE_INPUTS, expected });
}

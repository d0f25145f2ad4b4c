/**
 * The memo table OPA's runtime keeps during an evaluation, after the build
 * made it an array (scripts/lib/wasm-memo-table.ts), through the real
 * sandbox: a complete rule is computed once per evaluation however often it
 * is referenced, `with` neither sees nor fills the table around it, and no
 * evaluation sees what the one before it memoized. Each answer is what the
 * real `opa eval` answers.
 */
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { SandboxClient } from "../../src/engine/sandbox-client";

const { wasmBase64, inputs, expected } = inject("memoTablePolicy");
const wasm = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
const client = new SandboxClient(env.LOADER);

async function layerAnswer(input: { x: number }) {
  const answer = await client.decide(`memo-table-${wasmBase64.length}`, () => [{ scope: "tenant:memo-table", entrypoint: "memo/result", wasm, data: {} }], JSON.stringify(input), Date.now(), undefined, 250);
  return answer.layers[0];
}

describe("the memo table of a compiled policy", () => {
  it("answers every input as opa eval does, one after another in the same sandbox", async () => {
    // In order and then again: a value memoized for one input must never answer for the next.
    for (const round of [0, 1]) {
      for (const [i, input] of inputs.entries()) {
        const layer = await layerAnswer(input);
        expect(layer.error, `round ${round}, input ${JSON.stringify(input)}`).toBeUndefined();
        expect(layer.result, `round ${round}, input ${JSON.stringify(input)}`).toEqual(expected[i]);
      }
    }
  });

  it("keeps what `with` computed apart from the rules around it", () => {
    // The fixture's point: under `with`, the same rules have other values than outside it.
    const [first] = expected as Array<{ doubled: number; under_ten: number[]; nested: unknown[] }>;
    expect(first.doubled).toBe(6);
    expect(first.under_ten).toEqual([20, 40]);
    expect(first.nested).toEqual([14, [20, 40], 28]);
  });

  it("computes a complete rule once for all its references outside `with`", async () => {
    const layer = await layerAnswer({ x: 3 });
    // `doubled` is referenced five times for input.x = 3 (directly, twice through `quadrupled`, twice in `again`).
    expect(layer.print?.filter((line) => line.endsWith("doubled computed for 3"))).toHaveLength(1);
    // Under `with`, it is computed for the other inputs too, and never answered from the outer table.
    expect(layer.print?.some((line) => line.endsWith("doubled computed for 10"))).toBe(true);
    expect(layer.print?.some((line) => line.endsWith("doubled computed for 7"))).toBe(true);
  });
});

/**
 * A tenant's rules on the regex builtins the edge runs in the host
 * (regex.find_n, regex.replace, regex.split): Go RE2 syntax, as `opa test`
 * checks them. Through the real sandbox, each input is decided exactly as
 * the real `opa eval` decides it, inline flags, POSIX classes and Go's `.`
 * included; a pattern that cannot be written faithfully as a RegExp (a flag
 * in mid-pattern) stops the evaluation rather than answering otherwise, so
 * a deny rule never quietly stops firing at the edge.
 */
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { SandboxClient } from "../../src/engine/sandbox-client";

const { wasmBase64, inputs, expected } = inject("hostRegexPolicy");
const wasm = Uint8Array.from(atob(wasmBase64), (c) => c.charCodeAt(0));
const client = new SandboxClient(env.LOADER);

async function layerAnswer(sql: string) {
  const answer = await client.decide(`host-regex-${wasmBase64.length}`, () => [{ scope: "tenant:host-regex", entrypoint: "tollgate/decision", wasm, data: {} }], JSON.stringify({ action: { args: { sql } } }), Date.now(), undefined, 250);
  return answer.layers[0];
}

describe("a layer's rules on host regex builtins", () => {
  it.each(inputs.slice(0, -1).map((sql, i) => [sql, expected[i]] as const))("decide %j as opa eval does", async (sql, opa) => {
    const layer = await layerAnswer(sql);
    expect(layer.error).toBeUndefined();
    expect(layer.result).toEqual(opa);
  });

  it("the deny rules fired where opa eval says they do", () => {
    const denied = expected.filter((answer) => (answer as { decision: string }).decision === "deny").length;
    expect(denied).toBeGreaterThanOrEqual(4);
  });

  it("stop the evaluation on a pattern a RegExp cannot carry, where OPA would answer", async () => {
    expect((expected.at(-1) as { decision: string }).decision).toBe("deny");
    const layer = await layerAnswer(inputs.at(-1)!);
    expect(layer.error).toMatchObject({ code: "policy_aborted", message: expect.stringContaining("regex.split cannot answer as OPA would") });
  });
});

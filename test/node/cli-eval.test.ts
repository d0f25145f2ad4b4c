/**
 * `tollgate eval` as a policy author runs it: a real OPA compile, the edge's
 * sandbox code in workerd, the result printed as JSON.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { opaEvalMany } from "../../scripts/lib/opa.ts";

function tollgate(...args: string[]) {
  return spawnSync(process.execPath, ["bin/tollgate.mjs", ...args], { encoding: "utf8" });
}

function tempFile(name: string, contents: string): string {
  const dir = mkdtempSync(join(tmpdir(), "tollgate-cli-"));
  writeFileSync(join(dir, name), contents);
  return join(dir, name);
}

describe("tollgate eval", () => {
  it("prints what the edge would decide, identical to opa eval", () => {
    const input = {
      risk_tier: "high",
      tenant: "acme",
      agent: { id: "agent-7", role: "finance" },
      session: { id: "s-1" },
      action: { type: "tool_call", tool: "payments.refund", args: { amount: 900, currency: "EUR" } },
    };
    const result = tollgate("eval", "policies/global", "tollgate/decision", tempFile("input.json", JSON.stringify(input)));
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const [expected] = opaEvalMany("policies/global", "tollgate/decision", [input]);
    expect(JSON.parse(result.stdout)).toEqual(expected);
  });

  it("exits non-zero with OPA's message when the policy does not compile", () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-broken-"));
    writeFileSync(join(dir, "broken.rego"), "package tollgate\n\ndecision := {\"decision\": undefined_thing}\n");
    const result = tollgate("eval", dir, "tollgate/decision", tempFile("input.json", "{}"));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("does not compile");
    expect(result.stderr).toContain("broken.rego");
    expect(result.stdout).toBe("");
  });

  it("refuses a policy that calls a builtin the edge cannot run, naming it, its file and line, and why", () => {
    const dir = mkdtempSync(join(tmpdir(), "tollgate-network-"));
    writeFileSync(
      join(dir, "fetch.rego"),
      'package tollgate\n\nresponse := http.send({"method": "GET", "url": "https://example.com"})\n\naddrs := net.lookup_ip_addr("example.com")\n',
    );
    const result = tollgate("eval", dir, "tollgate/response", tempFile("input.json", "{}"));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/fetch\.rego:3: rego_type_error: undefined function http\.send: the edge sandbox has no network access by design/);
    expect(result.stderr).toMatch(/fetch\.rego:5: rego_type_error: undefined function net\.lookup_ip_addr: the edge sandbox has no network access \(no DNS\)/);
    expect(result.stdout).toBe("");
  });

  it("explains its usage when arguments are missing", () => {
    const result = tollgate("eval", "policies/global");
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("usage:");
  });
});

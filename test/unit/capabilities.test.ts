/**
 * The edge's capabilities file and its runtime agree exactly: a policy built
 * against scripts/edge-capabilities.json can only import builtins the
 * sandbox implements, and every host builtin is one such a policy can use.
 */
import { describe, expect, inject, it } from "vitest";
import { HOST_BUILTINS } from "../../src/engine/builtins";
import { EDGE_OPA_VERSION } from "../../src/engine/builtins/runtime";
import capabilities from "../../scripts/edge-capabilities.json";
import table from "../../scripts/edge-builtins.json";

const { regenerated, importedUnderEdgeCapabilities } = inject("edgeBuiltins");

describe("the edge's builtins", () => {
  it("are exactly what a policy built against the edge's capabilities can import", () => {
    expect([...HOST_BUILTINS].sort()).toEqual([...importedUnderEdgeCapabilities].sort());
  });

  it("allow in the capabilities file every builtin the table says the edge has, and nothing else", () => {
    const allowed = table.builtins.filter((entry) => entry.provider !== "refused").map((entry) => entry.name).sort();
    expect(capabilities.builtins.map((builtin) => builtin.name).sort()).toEqual(allowed);
  });

  it("are listed in a committed table that matches OPA and the host builtins as they are now", () => {
    expect(table.builtins).toEqual(regenerated);
  });

  it("report, through opa.runtime(), the OPA version the table was made from", () => {
    expect(EDGE_OPA_VERSION).toBe(table.opa_version);
  });

  it("refuse the network builtins, with the reason", () => {
    const refused = Object.fromEntries(table.builtins.filter((entry) => entry.provider === "refused").map((entry) => [entry.name, entry.reason]));
    expect(refused["http.send"]).toBe("the edge sandbox has no network access by design");
    expect(refused["net.lookup_ip_addr"]).toMatch(/no network/);
    expect(capabilities.builtins.map((builtin) => builtin.name)).not.toContain("http.send");
  });
});

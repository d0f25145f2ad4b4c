/**
 * The edge's capabilities file and its runtime agree exactly: a policy built
 * against scripts/edge-capabilities.json can only import builtins the
 * sandbox implements, and every host builtin is one such a policy can use.
 */
import { describe, expect, inject, it } from "vitest";
import { coreBuiltins, FAMILY_LOADERS, hostBuiltinNames, LAZY_BUILTIN_FAMILIES } from "../../src/engine/builtins";
import { EDGE_OPA_VERSION } from "../../src/engine/builtins/runtime";
import capabilities from "../../scripts/edge-capabilities.json";
import table from "../../scripts/edge-builtins.json";

const { regenerated, importedUnderEdgeCapabilities } = inject("edgeBuiltins");

describe("the edge's builtins", () => {
  it("are exactly what a policy built against the edge's capabilities can import", async () => {
    expect(await hostBuiltinNames()).toEqual([...importedUnderEdgeCapabilities].sort());
  });

  it("each belong to exactly one part: the core, or the one family that loads it on demand", async () => {
    const context = { nowNs: () => 0n, memo: new Map() };
    // A core builtin a family claimed would load that family's library for nothing; a family's builtin
    // its own predicate missed would be absent from every policy that calls it.
    const claimedCore = Object.keys(coreBuiltins(context)).filter((name) => LAZY_BUILTIN_FAMILIES.some((family) => family.covers(name)));
    expect(claimedCore).toEqual([]);
    for (const family of LAZY_BUILTIN_FAMILIES) {
      const names = Object.keys(await FAMILY_LOADERS[family.name](context));
      expect(names.length, family.name).toBeGreaterThan(0);
      expect(names.filter((name) => !family.covers(name)), family.name).toEqual([]);
      expect(names.filter((name) => LAZY_BUILTIN_FAMILIES.some((other) => other !== family && other.covers(name))), family.name).toEqual([]);
    }
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

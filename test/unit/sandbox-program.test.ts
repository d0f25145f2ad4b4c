/**
 * What the edge hands a sandbox of the sandbox program: its core always, a
 * builtin family's modules only when a layer calls one of its builtins, and
 * everything when it cannot tell. The program's source stays ASCII, so V8
 * holds it at one byte per character in every sandbox.
 */
import { describe, expect, inject, it } from "vitest";
import sandboxProgram from "../../build/sandbox-source.js";
import { BASELINE_LAYER } from "../../src/bundles/baseline";
import { LAZY_BUILTIN_FAMILIES } from "../../src/engine/builtins/families";
import { sandboxModules } from "../../src/engine/sandbox-modules";
import { SANDBOX_MAIN_MODULE } from "../../src/engine/sandbox-protocol";

const { groups, runtime } = inject("builtinCases");
const bytes = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
const familyModules = (name: string) => {
  const family = LAZY_BUILTIN_FAMILIES.find((candidate) => candidate.name === name)!;
  return sandboxProgram.onDemand[family.source];
};

describe("the sandbox program", () => {
  it("has a module of its own for each builtin family, and none imported on demand that no family names", () => {
    expect(Object.keys(sandboxProgram.onDemand).sort()).toEqual(LAZY_BUILTIN_FAMILIES.map((family) => family.source).sort());
    for (const family of LAZY_BUILTIN_FAMILIES) {
      const modules = sandboxProgram.onDemand[family.source];
      expect(modules.length, family.name).toBeGreaterThan(0);
      expect(modules.filter((name) => sandboxProgram.core.includes(name)), family.name).toEqual([]);
      for (const name of modules) expect(sandboxProgram.modules[name], name).toBeTypeOf("string");
    }
    expect(sandboxProgram.core).toContain(SANDBOX_MAIN_MODULE);
  });

  it("is ASCII only", () => {
    for (const [name, source] of Object.entries(sandboxProgram.modules)) expect(/[^\x00-\x7f]/.test(source), name).toBe(false);
  });

  it("gives a policy that calls no family's builtin the core alone", () => {
    const modules = sandboxModules([{ scope: "test", entrypoint: runtime.entrypoint, wasm: bytes(runtime.wasmBase64), data: {} }]);
    for (const name of sandboxProgram.core) expect(modules[name]).toBe(sandboxProgram.modules[name]);
    for (const family of LAZY_BUILTIN_FAMILIES) {
      for (const name of familyModules(family.name)) expect(modules[name], `${family.name}: ${name}`).toBeUndefined();
    }
  });

  it("adds every family a layer calls, whichever layer calls it", () => {
    // The first group's policy calls every builtin the edge has; it is the second of two layers here.
    const everything = groups[0];
    const modules = sandboxModules([
      { scope: "global", entrypoint: runtime.entrypoint, wasm: bytes(runtime.wasmBase64), data: {} },
      { scope: "tenant:acme", entrypoint: everything.entrypoint, wasm: bytes(everything.wasmBase64), data: {} },
    ]);
    for (const family of LAZY_BUILTIN_FAMILIES) {
      for (const name of familyModules(family.name)) expect(modules[name], `${family.name}: ${name}`).toBe(sandboxProgram.modules[name]);
    }
  });

  it("adds every family when the layer's code cannot be read for the builtins it calls", () => {
    // Bytes that end inside a section, and the baseline, which is compiled into the deploy.
    const unreadable = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x0b, 0x7f]);
    for (const layer of [{ scope: "test", entrypoint: "x", wasm: unreadable, data: {} }, BASELINE_LAYER]) {
      const modules = sandboxModules([layer]);
      for (const family of LAZY_BUILTIN_FAMILIES) {
        for (const name of familyModules(family.name)) expect(modules[name], `${family.name}: ${name}`).toBeDefined();
      }
    }
  });
});

/**
 * A child layer's parameters against its parent's bounds (bundles/bounds.ts),
 * as the publisher and every edge check them: a parameter left out is a
 * change like any other, and keys named like Object.prototype's members are
 * parameters, never inherited values.
 */
import { describe, expect, it } from "vitest";
import { checkBounds, mergeParams, type LayerData } from "../../src/bundles/bounds";

const parent: LayerData = {
  params: { refunds: { approval_threshold: 500, hard_cap: 1000 }, shell: { dangerous_patterns: ["rm -rf", "sudo"] }, roles: { support: { tools: ["tickets.read"] } } },
  bounds: { "refunds.approval_threshold": "lower", "shell.dangerous_patterns": "superset", "roles.*.tools": "subset" },
};
const params = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe("a child layer's parameters", () => {
  it("built by merging overrides into the parent's, within bounds, pass", () => {
    const child = { params: mergeParams(parent.params, { refunds: { approval_threshold: 100 }, shell: { dangerous_patterns: ["rm -rf", "sudo", "curl"] } }) as Record<string, unknown> };
    expect(checkBounds(parent, child)).toEqual([]);
  });

  it("that leave a parameter out are refused, naming it, even where the parent declares a bound for it", () => {
    const child = { params: { refunds: { approval_threshold: 500 }, shell: { dangerous_patterns: ["rm -rf", "sudo"] }, roles: { support: {} } } };
    expect(checkBounds(parent, child).map((v) => v.parameter).sort()).toEqual(["refunds.hard_cap", "roles.support.tools"]);
    expect(checkBounds(parent, {}).map((v) => v.parameter).sort()).toEqual(["refunds.approval_threshold", "refunds.hard_cap", "roles.support.tools", "shell.dangerous_patterns"]);
  });

  it("replacing a bounded value with an empty object is refused, naming it", () => {
    const child = { params: structuredClone(parent.params) as Record<string, any> };
    child.params.refunds.approval_threshold = {};
    child.params.shell.dangerous_patterns = {};
    expect(checkBounds(parent, child).map((v) => v.parameter).sort()).toEqual(["refunds.approval_threshold", "shell.dangerous_patterns"]);
    expect(checkBounds(parent, child)[0].message).toContain("empty object");
  });

  it("replacing a section with something else is named once, at the section", () => {
    const child = { params: { ...(parent.params as object), refunds: 5 } };
    expect(checkBounds(parent, child).map((v) => v.parameter)).toEqual(["refunds"]);
  });

  it("with keys named constructor or __proto__ are compared as parameters, not with Object's members", () => {
    const withKeys = params('{"refunds": {"approval_threshold": 500, "hard_cap": 1000}, "shell": {"dangerous_patterns": ["rm -rf", "sudo"]}, "roles": {"support": {"tools": ["tickets.read"]}}, "constructor": {"x": 1}, "__proto__": {"y": 2}}');
    const violations = checkBounds({ ...parent, params: withKeys }, { params: params('{"refunds": {"approval_threshold": 500, "hard_cap": 1000}, "shell": {"dangerous_patterns": ["rm -rf", "sudo"]}, "roles": {"support": {"tools": ["tickets.read"]}}}') });
    expect(violations.map((v) => v.parameter).sort()).toEqual(["__proto__.y", "constructor.x"]);
    // A child adding them, where the parent has none, changes a parameter without a bound.
    expect(checkBounds(parent, { params: { ...withKeys } }).map((v) => v.parameter).sort()).toEqual(["__proto__.y", "constructor.x"]);
  });

  it("merged from overrides keep a key named __proto__ as a parameter", () => {
    const merged = mergeParams({ a: 1 }, params('{"__proto__": {"b": 2}}')) as Record<string, unknown>;
    expect(Object.keys(merged)).toEqual(["a", "__proto__"]);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(mergeParams(params('{"__proto__": {"b": 2, "c": 3}}'), params('{"__proto__": {"b": 4}}'))).toEqual(params('{"__proto__": {"b": 4, "c": 3}}'));
  });
});

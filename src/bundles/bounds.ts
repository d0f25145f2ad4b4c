/**
 * @module bounds
 * Whether a child layer's parameters stay within what its parent allows. The
 * parent declares, per parameter path, how a child may change it:
 *
 *   "refunds.approval_threshold": "lower"   child value ≤ parent value
 *   "plans.approval_write_steps": "lower"
 *   "files.allowed_dirs": "subset"          child list ⊆ parent list
 *   "shell.dangerous_patterns": "superset"  child list ⊇ parent list
 *   "roles.*.tools": "subset"               "*" matches one path segment
 *   "tools.*.risk_floor": "higher_tier"     a risk tier at least the parent's
 *   "certification.required_from": "lower_tier"   a risk tier at most the parent's
 *   "data_flows.session_taint.external_tools": "stricter_verdict"
 *                                           allow < require_approval < deny: at least the parent's
 *
 * The child's data holds its effective parameters (the parent's with its
 * overrides applied); every value that differs from the parent's must be
 * within a declared bound, a parameter with no bound may not change at
 * all, and none may be left out. A child must also keep every rule of its
 * parent. Pure: the CLI refuses a loosening publish with it, and the edge
 * re-checks every layer it composes with it and logs one out of bounds
 * (composition takes the strictest answer, so such a layer cannot loosen).
 */
import { RISK_TIERS } from "../schema/risk-tier.ts";
import { isJsonObject } from "../own-members.ts";

export type BoundKind = "lower" | "higher" | "subset" | "superset" | "higher_tier" | "lower_tier" | "stricter_verdict";

const VERDICTS = ["allow", "require_approval", "deny"];

export interface LayerData {
  params?: Record<string, unknown>;
  bounds?: Record<string, BoundKind>;
}

export interface BoundViolation {
  parameter: string;
  message: string;
}

function leaves(value: unknown, prefix: string[] = []): Array<[string[], unknown]> {
  if (isJsonObject(value)) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...prefix, k]));
  }
  return [[prefix, value]];
}

/** The value at a path, through own members only (a key named `constructor` is not Object's). */
function lookup(root: unknown, path: string[]): unknown {
  let node = root;
  for (const key of path) {
    if (!node || typeof node !== "object" || Array.isArray(node) || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function boundFor(bounds: Record<string, BoundKind>, path: string[]): BoundKind | undefined {
  for (const [pattern, kind] of Object.entries(bounds)) {
    const parts = pattern.split(".");
    if (parts.length === path.length && parts.every((p, i) => p === "*" || p === path[i])) return kind;
  }
  return undefined;
}

const show = (value: unknown) => JSON.stringify(value);

/** Every way `child` loosens `parent`; empty when the child may be composed under it. */
export function checkBounds(parent: LayerData, child: LayerData): BoundViolation[] {
  const violations: BoundViolation[] = [];
  const bounds = parent.bounds ?? {};
  for (const [path, value] of leaves(child.params ?? {})) {
    const name = path.join(".");
    const parentValue = lookup(parent.params, path);
    if (show(value) === show(parentValue)) continue;
    const kind = boundFor(bounds, path);
    if (!kind) {
      violations.push({ parameter: name, message: `${name} is not overridable (the parent declares no bound for it)` });
      continue;
    }
    if (kind === "lower" || kind === "higher") {
      if (typeof value !== "number" || typeof parentValue !== "number") {
        violations.push({ parameter: name, message: `${name} must be a number, as in the parent` });
      } else if (kind === "lower" ? value > parentValue : value < parentValue) {
        const relation = kind === "lower" ? "at most" : "at least";
        violations.push({ parameter: name, message: `${name} = ${show(value)} loosens the parent: it must be ${relation} ${show(parentValue)}` });
      }
      continue;
    }
    if (kind === "higher_tier" || kind === "lower_tier") {
      const rank = (RISK_TIERS as readonly unknown[]).indexOf(value);
      const parentRank = (RISK_TIERS as readonly unknown[]).indexOf(parentValue);
      if (rank < 0 || parentRank < 0) {
        violations.push({ parameter: name, message: `${name} must be a risk tier (${RISK_TIERS.join(", ")}), as in the parent` });
      } else if (kind === "higher_tier" ? rank < parentRank : rank > parentRank) {
        const relation = kind === "higher_tier" ? "at least" : "at most";
        violations.push({ parameter: name, message: `${name} = ${show(value)} loosens the parent: it must be ${relation} ${show(parentValue)}` });
      }
      continue;
    }
    if (kind === "stricter_verdict") {
      const rank = VERDICTS.indexOf(value as string);
      const parentRank = VERDICTS.indexOf(parentValue as string);
      if (rank < 0 || parentRank < 0) {
        violations.push({ parameter: name, message: `${name} must be a verdict (${VERDICTS.join(", ")}), as in the parent` });
      } else if (rank < parentRank) {
        violations.push({ parameter: name, message: `${name} = ${show(value)} loosens the parent: it must be at least as strict as ${show(parentValue)}` });
      }
      continue;
    }
    if (!Array.isArray(value) || !Array.isArray(parentValue)) {
      violations.push({ parameter: name, message: `${name} must be a list, as in the parent` });
      continue;
    }
    const parentItems = new Set(parentValue.map(show));
    const childItems = new Set(value.map(show));
    const offending =
      kind === "subset"
        ? value.filter((item) => !parentItems.has(show(item)))
        : parentValue.filter((item) => !childItems.has(show(item)));
    if (offending.length > 0) {
      const verb = kind === "subset" ? "adds" : "drops";
      violations.push({ parameter: name, message: `${name} ${verb} ${offending.map(show).join(", ")}, which the parent does not allow` });
    }
  }
  // A parameter the child leaves out changes it as much as another value would: its rules would read
  // nothing there. A child built by merging its overrides into the parent's parameters has them all.
  // So does one replaced by an empty object, which has no leaves of its own to be checked above.
  for (const [path, value] of leaves(parent.params ?? {})) {
    if (value === undefined) continue;
    const childValue = lookup(child.params, path);
    const emptied = isJsonObject(childValue) && Object.keys(childValue).length === 0 && !isJsonObject(value);
    if (childValue !== undefined && !emptied) continue;
    const name = path.join(".");
    if (!violations.some((v) => name.startsWith(`${v.parameter}.`) || v.parameter === name)) {
      const message = emptied ? `${name} is replaced by an empty object: it must be ${show(value)} or within its bound, as in the parent` : `${name} is missing: a child layer holds every parameter of its parent`;
      violations.push({ parameter: name, message });
    }
  }
  return violations;
}

/** Parent rules the child no longer has: a child may add rules, never drop one. */
export function droppedRules(parentRules: string[], childRules: string[]): BoundViolation[] {
  const kept = new Set(childRules);
  return parentRules
    .filter((rule) => !kept.has(rule))
    .map((rule) => ({ parameter: `rule:${rule}`, message: `rule ${rule} of the parent is missing from the child layer's compiled policy` }));
}

/** The parent's parameters with the child's overrides applied (objects merge, other values replace). */
export function mergeParams(parent: unknown, child: unknown): unknown {
  if (parent && child && typeof parent === "object" && typeof child === "object" && !Array.isArray(parent) && !Array.isArray(child)) {
    const merged: Record<string, unknown> = { ...(parent as Record<string, unknown>) };
    for (const [key, value] of Object.entries(child as Record<string, unknown>)) {
      // Defined, not assigned: a key named __proto__ is a parameter like any other.
      const next = Object.hasOwn(merged, key) ? mergeParams(merged[key], value) : value;
      Object.defineProperty(merged, key, { value: next, enumerable: true, writable: true, configurable: true });
    }
    return merged;
  }
  return child === undefined ? parent : child;
}

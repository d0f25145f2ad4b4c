/**
 * @module collections
 * object.subset, graph.reachable_paths and the deprecated cast_* builtins,
 * following OPA's topdown (subset.go, reachable.go, casts.go), quirks
 * included: an array is a subset of another when it occurs in it
 * contiguously, and a set within an array counts matches, not distinct ones.
 */
import { compareRegoValues, type RegoValue } from "../rego-value";
import { BuiltinError, isPlainObject, type Builtin } from "./context";
import { ownMember } from "../../own-members";

const equal = (a: RegoValue, b: RegoValue) => compareRegoValues(a, b) === 0;
const isObject = (value: unknown): value is Record<string, RegoValue> | Map<RegoValue, RegoValue> => value instanceof Map || isPlainObject(value);

function entries(object: Record<string, RegoValue> | Map<RegoValue, RegoValue>): Array<[RegoValue, RegoValue]> {
  return object instanceof Map ? [...object] : Object.entries(object);
}

function lookup(object: Record<string, RegoValue> | Map<RegoValue, RegoValue>, key: RegoValue): RegoValue | undefined {
  if (object instanceof Map) return [...object].find(([k]) => equal(k, key))?.[1];
  return typeof key === "string" ? ownMember(object, key) : undefined;
}

function setContains(set: Set<RegoValue>, value: RegoValue): boolean {
  for (const member of set) if (equal(member, value)) return true;
  return false;
}

function objectSubset(superObject: Record<string, RegoValue> | Map<RegoValue, RegoValue>, sub: Record<string, RegoValue> | Map<RegoValue, RegoValue>): boolean {
  return entries(sub).every(([key, subValue]) => {
    const superValue = lookup(superObject, key);
    if (superValue === undefined) return false;
    if (equal(subValue, superValue)) return true;
    if (isObject(superValue) && isObject(subValue)) return objectSubset(superValue, subValue);
    if (superValue instanceof Set && subValue instanceof Set) return setSubset(superValue, subValue);
    if (Array.isArray(superValue) && Array.isArray(subValue)) return arraySubset(superValue, subValue);
    return false;
  });
}

function setSubset(superSet: Set<RegoValue>, sub: Set<RegoValue>): boolean {
  return [...sub].every((member) => setContains(superSet, member));
}

/** Whether `sub` occurs contiguously in `superArray`, scanned as OPA does. */
function arraySubset(superArray: RegoValue[], sub: RegoValue[]): boolean {
  if (sub.length > superArray.length) return false;
  let superCursor = 0;
  let subCursor = 0;
  for (;;) {
    if (subCursor === sub.length) return true;
    if (superCursor + subCursor === superArray.length) return false;
    if (equal(superArray[superCursor + subCursor], sub[subCursor])) subCursor++;
    else {
      superCursor++;
      subCursor = 0;
    }
  }
}

/** OPA counts matching array elements down from the set's size (duplicates count twice; an empty array never matches). */
function arraySetSubset(superArray: RegoValue[], sub: Set<RegoValue>): boolean {
  let unmatched = sub.size;
  for (const element of superArray) {
    if (setContains(sub, element)) unmatched--;
    if (unmatched === 0) return true;
  }
  return false;
}

function vertices(collection: RegoValue | undefined): RegoValue[] {
  if (collection instanceof Set) return [...collection].sort(compareRegoValues);
  if (Array.isArray(collection)) return collection;
  return [];
}

function reachablePaths(graph: Record<string, RegoValue> | Map<RegoValue, RegoValue>, roots: RegoValue[]): Set<RegoValue> {
  const paths = new Set<RegoValue>();
  const build = (root: RegoValue, path: RegoValue[], reached: RegoValue[]): void => {
    const edges = lookup(graph, root);
    if (edges === undefined) {
      paths.add(path);
      return;
    }
    const here = [...path, root];
    const next = vertices(edges);
    if (next.length === 0) {
      paths.add(here);
      return;
    }
    const seen = [...reached, root];
    for (const neighbor of next) {
      if (seen.some((node) => equal(node, neighbor))) paths.add(here);
      else build(neighbor, here, seen);
    }
  };
  for (const node of roots) {
    const edges = lookup(graph, node);
    if (edges === undefined) continue;
    const next = vertices(edges);
    if (next.length === 0) paths.add([node]);
    for (const neighbor of next) build(neighbor, [node], [node]);
  }
  return paths;
}

const cast =
  (accepts: (value: unknown) => boolean, convert: (value: any) => unknown = (value) => value) =>
  (value: unknown) => {
    if (!accepts(value)) throw new BuiltinError("operand has the wrong type");
    return convert(value);
  };

export const collectionBuiltins: Record<string, Builtin> = {
  "object.subset": (superValue: RegoValue, sub: RegoValue) => {
    if (isObject(superValue) && isObject(sub)) return objectSubset(superValue, sub);
    if (superValue instanceof Set && sub instanceof Set) return setSubset(superValue, sub);
    if (Array.isArray(superValue) && Array.isArray(sub)) return arraySubset(superValue, sub);
    if (Array.isArray(superValue) && sub instanceof Set) return arraySetSubset(superValue, sub);
    throw new BuiltinError("both arguments object.subset must be of the same type or array and set");
  },
  "graph.reachable_paths": (graph: RegoValue, initial: RegoValue) => {
    if (!isObject(graph)) throw new BuiltinError("graph must be an object");
    if (!Array.isArray(initial) && !(initial instanceof Set)) throw new BuiltinError("initial must be an array or a set");
    return reachablePaths(graph, vertices(initial));
  },
  cast_array: cast((v) => Array.isArray(v) || v instanceof Set, (v) => (v instanceof Set ? [...v].sort(compareRegoValues) : v)),
  cast_set: cast((v) => Array.isArray(v) || v instanceof Set, (v) => new Set(v)),
  cast_string: cast((v) => typeof v === "string"),
  cast_boolean: cast((v) => typeof v === "boolean"),
  cast_null: cast((v) => v === null),
  cast_object: cast(isObject),
};

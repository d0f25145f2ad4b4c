/**
 * @module layer-diff
 * What changed between two versions of a layer, as a reviewer reads it:
 * every parameter (`tollgate.params`, flattened to dotted paths) added,
 * removed or changed, and the rule ids the layer can raise added or
 * removed. Layers come back from R2 and are read as hostile: depth and the
 * number of paths are bounded, and a file that does not parse is reported,
 * not thrown.
 */
import { isJsonObject } from "../own-members";

const MAX_DEPTH = 32;
const MAX_PATHS = 5_000;

export interface ParamChange {
  path: string;
  kind: "added" | "removed" | "changed";
  before?: string;
  after?: string;
}

export interface LayerDiff {
  params: ParamChange[];
  rulesAdded: string[];
  rulesRemoved: string[];
  /** Set when a side's data could not be read in full. */
  problems: string[];
}

/** Leaf values by dotted path; arrays are leaves (an allowlist reads best whole). */
export function flattenParams(value: unknown, problems: string[], label: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (node: unknown, path: string, depth: number) => {
    if (out.size >= MAX_PATHS) return;
    if (depth > MAX_DEPTH) {
      problems.push(`${label}: ${path} nests deeper than ${MAX_DEPTH}; not compared below it`);
      return;
    }
    if (isJsonObject(node)) {
      const keys = Object.keys(node).sort();
      if (keys.length === 0 && path) out.set(path, "{}");
      for (const key of keys) walk(node[key], path ? `${path}.${key}` : key, depth + 1);
      return;
    }
    out.set(path, JSON.stringify(node));
  };
  walk(value, "", 0);
  if (out.size >= MAX_PATHS) problems.push(`${label}: more than ${MAX_PATHS} parameters; only the first are compared`);
  return out;
}

/** `tollgate.params` of a layer's data.json text, or undefined (with a problem) when it does not parse. */
export function paramsOf(text: string | null, problems: string[], label: string): unknown {
  if (text === null) {
    problems.push(`${label}: data.json is missing from the store`);
    return undefined;
  }
  try {
    return (JSON.parse(text) as { tollgate?: { params?: unknown } })?.tollgate?.params ?? {};
  } catch {
    problems.push(`${label}: data.json is not JSON`);
    return undefined;
  }
}

export function diffLayers(before: { params: unknown; rules: string[] }, after: { params: unknown; rules: string[] }, problems: string[]): LayerDiff {
  const a = flattenParams(before.params ?? {}, problems, "older");
  const b = flattenParams(after.params ?? {}, problems, "newer");
  const params: ParamChange[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(path);
    const y = b.get(path);
    if (x === undefined) params.push({ path, kind: "added", after: y });
    else if (y === undefined) params.push({ path, kind: "removed", before: x });
    else if (x !== y) params.push({ path, kind: "changed", before: x, after: y });
  }
  const rulesA = new Set(before.rules);
  const rulesB = new Set(after.rules);
  return {
    params,
    rulesAdded: [...rulesB].filter((r) => !rulesA.has(r)).sort(),
    rulesRemoved: [...rulesA].filter((r) => !rulesB.has(r)).sort(),
    problems,
  };
}

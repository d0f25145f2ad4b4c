/**
 * @module json-limits
 * Bounds on the shape of a parsed JSON body: nesting depth, array length,
 * object size and string length. Everything downstream (schemas, canonical
 * JSON, hashing, the policy, the audit log) recurses or copies, so a body is
 * measured here first, with an explicit stack: no input can overflow one.
 * The first violation is reported with its path, for a 400 that says where.
 */

export interface JsonLimits {
  maxDepth: number;
  maxArrayLength: number;
  maxObjectKeys: number;
  maxStringLength: number;
}

/** What a decision input may be: deep enough for any tool's arguments, shallow enough for every consumer. */
export const DECISION_LIMITS: JsonLimits = { maxDepth: 32, maxArrayLength: 1_000, maxObjectKeys: 1_000, maxStringLength: 32 * 1024 };

export interface LimitViolation {
  path: string;
  message: string;
}

interface Frame {
  value: unknown;
  depth: number;
  parent?: Frame;
  key?: string;
}

function pathOf(frame: Frame): string {
  const keys: string[] = [];
  for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) keys.push(at.key);
  return keys.reverse().join(".");
}

export function findLimitViolation(root: unknown, limits: JsonLimits): LimitViolation | undefined {
  const stack: Frame[] = [{ value: root, depth: 0 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value, depth } = frame;
    if (typeof value === "string") {
      if (value.length > limits.maxStringLength) return { path: pathOf(frame), message: `strings are at most ${limits.maxStringLength} characters` };
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth >= limits.maxDepth) return { path: pathOf(frame), message: `values nest at most ${limits.maxDepth} levels deep` };
    if (Array.isArray(value)) {
      if (value.length > limits.maxArrayLength) return { path: pathOf(frame), message: `arrays hold at most ${limits.maxArrayLength} items` };
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], depth: depth + 1, parent: frame, key: String(i) });
      continue;
    }
    const keys = Object.keys(value);
    if (keys.length > limits.maxObjectKeys) return { path: pathOf(frame), message: `objects hold at most ${limits.maxObjectKeys} keys` };
    for (let i = keys.length - 1; i >= 0; i--) {
      if (keys[i].length > limits.maxStringLength) return { path: pathOf(frame), message: `keys are at most ${limits.maxStringLength} characters` };
      stack.push({ value: (value as Record<string, unknown>)[keys[i]], depth: depth + 1, parent: frame, key: keys[i] });
    }
  }
  return undefined;
}

/**
 * @module context
 * What host builtins may know about the evaluation they run in: the edge's
 * clock (OPA evaluates every time builtin at one instant per query) and a memo
 * that lives for one evaluation, so `uuid.rfc4122(k)` and `rand.intn(k, n)`
 * answer the same for the same key within a query, as OPA does.
 */
export interface BuiltinContext {
  nowNs(): bigint;
  memo: Map<string, unknown>;
  /** Told about each builtin error that was turned into "undefined". */
  onError?(name: string, error: Error): void;
}

export type Builtin = (...args: any[]) => unknown;

/** Thrown for bad builtin arguments; the evaluator turns it into "undefined", as OPA does. */
export class BuiltinError extends Error {}

export function expectString(value: unknown, what: string): string {
  if (typeof value !== "string") throw new BuiltinError(`${what} must be a string`);
  return value;
}

export function expectNumber(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new BuiltinError(`${what} must be a number`);
  return value;
}

/**
 * Integers beyond 2^53 (nanosecond timestamps) must reach the wasm exactly;
 * JSON.rawJSON makes opa-wasm's JSON.stringify emit the digits as they are.
 */
export function exactInteger(value: bigint): unknown {
  return (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(value.toString());
}

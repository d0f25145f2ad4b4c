/**
 * @module context
 * What host builtins may know about the evaluation they run in: the edge's
 * clock (OPA evaluates every time builtin at one instant per query), a memo
 * that lives for one evaluation, so `uuid.rfc4122(k)` and `rand.intn(k, n)`
 * answer the same for the same key within a query, as OPA does, where print
 * output goes, and what opa.runtime() may say about the edge. Also the
 * argument checks every builtin shares.
 */
import { isRawNumber, rawNumber, type RegoValue } from "../rego-value";
import type { EdgeRuntimeInfo } from "../sandbox-protocol";

export interface BuiltinContext {
  nowNs(): bigint;
  memo: Map<string, unknown>;
  /** Receives each line the policy prints (internal.print). */
  print?(line: string): void;
  /** The edge's runtime facts for opa.runtime(), when the caller gave them. */
  runtime?(): EdgeRuntimeInfo | undefined;
}

export type Builtin = (...args: any[]) => unknown;

/** Thrown for bad builtin arguments; the evaluator turns it into "undefined", as OPA does. */
export class BuiltinError extends Error {}

/**
 * Thrown where a builtin cannot give OPA's answer at all (a regex OPA runs
 * that the host cannot write faithfully): undefined would be a different
 * answer, one a deny rule stops firing on, so the evaluation fails instead
 * (the edge then refuses the input).
 */
export class BuiltinCannotAnswer extends Error {}

export function expectString(value: unknown, what: string): string {
  if (typeof value !== "string") throw new BuiltinError(`${what} must be a string`);
  return value;
}

/** A number argument as a double (what OPA's own float builtins compute with). */
export function expectNumber(value: unknown, what: string): number {
  if (typeof value === "bigint") return Number(value);
  if (isRawNumber(value)) return Number(value.rawJSON);
  if (typeof value !== "number" || !Number.isFinite(value)) throw new BuiltinError(`${what} must be a number`);
  return value;
}

/** An integer argument, exactly. */
export function expectInteger(value: unknown, what: string): bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (isRawNumber(value) && /^-?\d+$/.test(value.rawJSON)) return BigInt(value.rawJSON);
  throw new BuiltinError(`${what} must be an integer`);
}

export function expectObject(value: unknown, what: string): Record<string, RegoValue> {
  if (!isPlainObject(value)) throw new BuiltinError(`${what} must be an object`);
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, RegoValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Set) && !(value instanceof Map) && !isRawNumber(value);
}

/** The members of an array or a set, as OPA's "array or set" operands are read. */
export function elements(value: unknown, what: string): RegoValue[] {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  throw new BuiltinError(`${what} must be an array or a set`);
}

/** An integer as the number that reaches the wasm exactly (a bigint beyond 2^53). */
export function exactInteger(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** A decimal result written as its exact text. */
export function exactDecimal(text: string): RegoValue {
  return rawNumber(text);
}

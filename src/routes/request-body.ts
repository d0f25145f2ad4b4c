/**
 * @module request-body
 * JSON request bodies, read and checked the same way on every route: a body
 * that is not JSON (nor UTF-8) is 400 `invalid_json`; one nested too deep or too large,
 * or that does not match its schema, is 400 `invalid_input`, naming the
 * first field at fault.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../errors";
import { strictUtf8 } from "../streams/capped-text";
import { DECISION_LIMITS, findLimitViolation, type JsonLimits } from "../schema/json-limits";

function invalidJson(error: unknown): ApiError {
  return new ApiError(400, "invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
}

/** Refuses a value nested too deep or too large anywhere (400 `invalid_input`, naming where). */
function bounded(value: unknown, limits: JsonLimits): unknown {
  const violation = findLimitViolation(value, limits);
  if (violation) throw new ApiError(400, "invalid_input", violation.path ? `${violation.path}: ${violation.message}` : violation.message, violation.path || undefined);
  return value;
}

export function parseJson(text: string, limits: JsonLimits = DECISION_LIMITS): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalidJson(error);
  }
  return bounded(value, limits);
}

/** The body as text; bytes that are not UTF-8 are refused, where `c.req.text()` would quietly turn them into U+FFFD. */
async function bodyText(c: Context): Promise<string> {
  const text = strictUtf8(await c.req.arrayBuffer());
  if (text === undefined) throw new ApiError(400, "invalid_json", "request body is not valid JSON: it is not UTF-8");
  return text;
}

export async function readJson(c: Context, limits: JsonLimits = DECISION_LIMITS): Promise<unknown> {
  return parseJson(await bodyText(c), limits);
}

export function validated<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  // An unknown field is reported at its own path, not its parent's.
  const keys = issue.code === "unrecognized_keys" ? issue.keys.slice(0, 1) : [];
  const path = [...issue.path, ...keys].map(String).join(".");
  throw new ApiError(400, "invalid_input", path ? `${path}: ${issue.message}` : issue.message, path || undefined);
}

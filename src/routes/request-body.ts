/**
 * @module request-body
 * JSON request bodies, read and checked the same way on every route: a body
 * that is not JSON is 400 `invalid_json`; one that does not match its schema
 * is 400 `invalid_input`, naming the first field at fault.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { ApiError } from "../errors";

function invalidJson(error: unknown): ApiError {
  return new ApiError(400, "invalid_json", `request body is not valid JSON: ${(error as Error).message}`);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidJson(error);
  }
}

export async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (error) {
    throw invalidJson(error);
  }
}

export function validated<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue.path.map(String).join(".");
  throw new ApiError(400, "invalid_input", path ? `${path}: ${issue.message}` : issue.message, path || undefined);
}

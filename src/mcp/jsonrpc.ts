/**
 * @module jsonrpc
 * JSON-RPC 2.0 as the MCP gateway reads it from clients and upstreams: one
 * message per POST (MCP 2025-06-18 dropped batches), classified as a
 * request, a notification or a response, each checked for the fields the
 * specification requires. A body that is not JSON is a parse error
 * (-32700); JSON that is not a message is an invalid request (-32600). The
 * error codes MCP adds are named here too.
 */
import { findLimitViolation, type JsonLimits } from "../schema/json-limits";
import { isJsonObject } from "../own-members";

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** MCP 2025-11-25: the request can proceed once a URL-mode elicitation is completed. */
export const URL_ELICITATION_REQUIRED = -32042;
/** Implementation-defined server errors (-32000 to -32099): the upstream failed, or the session is not known. */
export const UPSTREAM_ERROR = -32002;
/** A resource read or prompt request the policy refused (a refused tool call is a result instead; governed-request.ts). */
export const REFUSED_BY_POLICY = -32003;

export type JsonRpcId = string | number;

export type JsonRpcMessage =
  | { kind: "request"; id: JsonRpcId; method: string; params?: Record<string, unknown>; raw: Record<string, unknown> }
  | { kind: "notification"; method: string; params?: Record<string, unknown>; raw: Record<string, unknown> }
  | { kind: "response"; id: JsonRpcId | null; result?: unknown; error?: { code: number; message: string; data?: unknown }; raw: Record<string, unknown> };

export class JsonRpcFault extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly id: JsonRpcId | null = null,
  ) {
    super(message);
  }
}

/** What a message may be: generous for tool arguments and results, bounded for every consumer. */
export const MESSAGE_LIMITS: JsonLimits = { maxDepth: 40, maxArrayLength: 10_000, maxObjectKeys: 10_000, maxStringLength: 4 * 1024 * 1024 };

const isId = (value: unknown): value is JsonRpcId => typeof value === "string" || (typeof value === "number" && Number.isInteger(value));

/** Classifies a parsed value; throws JsonRpcFault(-32600) for anything that is not one JSON-RPC 2.0 message. */
export function classify(value: unknown): JsonRpcMessage {
  if (Array.isArray(value)) throw new JsonRpcFault(INVALID_REQUEST, "batches are not part of MCP since 2025-06-18: send one message per request");
  if (!isJsonObject(value) || value.jsonrpc !== "2.0") throw new JsonRpcFault(INVALID_REQUEST, 'a JSON-RPC 2.0 message is an object with "jsonrpc": "2.0"');
  const id = value.id;
  const hasId = Object.hasOwn(value, "id");
  if (hasId && id !== null && !isId(id)) throw new JsonRpcFault(INVALID_REQUEST, "id must be a string or an integer");
  const params = value.params;
  if (params !== undefined && !isJsonObject(params)) throw new JsonRpcFault(INVALID_REQUEST, "params must be an object", isId(id) ? id : null);
  if (typeof value.method === "string") {
    if (value.method.length === 0 || value.method.length > 256) throw new JsonRpcFault(INVALID_REQUEST, "method must be 1 to 256 characters", isId(id) ? id : null);
    if (!hasId) return { kind: "notification", method: value.method, params: params as Record<string, unknown> | undefined, raw: value };
    if (!isId(id)) throw new JsonRpcFault(INVALID_REQUEST, "a request's id must be a string or an integer");
    return { kind: "request", id, method: value.method, params: params as Record<string, unknown> | undefined, raw: value };
  }
  if (value.method !== undefined) throw new JsonRpcFault(INVALID_REQUEST, "method must be a string", isId(id) ? id : null);
  const hasResult = Object.hasOwn(value, "result");
  const error = value.error;
  if (hasId && hasResult !== (error !== undefined)) {
    if (error !== undefined && !(isJsonObject(error) && typeof error.code === "number" && typeof error.message === "string")) {
      throw new JsonRpcFault(INVALID_REQUEST, "error must be an object with a numeric code and a message");
    }
    return { kind: "response", id: isId(id) ? id : null, result: value.result, error: error as { code: number; message: string } | undefined, raw: value };
  }
  throw new JsonRpcFault(INVALID_REQUEST, "a message is a request (method and id), a notification (method) or a response (id and result or error)", isId(id) ? id : null);
}

/** Parses and classifies one message from text, measured against `limits` before anything walks it. */
export function parseMessage(text: string, limits: JsonLimits = MESSAGE_LIMITS): JsonRpcMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new JsonRpcFault(PARSE_ERROR, `not JSON: ${(error as Error).message}`);
  }
  const violation = findLimitViolation(value, limits);
  if (violation) throw new JsonRpcFault(INVALID_REQUEST, `message too large or too deep at ${violation.path || "the top"}: ${violation.message}`);
  return classify(value);
}

export function errorMessage(id: JsonRpcId | null, code: number, message: string, data?: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}

export function resultMessage(id: JsonRpcId, result: unknown): Record<string, unknown> {
  return { jsonrpc: "2.0", id, result };
}

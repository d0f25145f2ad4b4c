/**
 * @module upstream-message
 * What the gateway sends upstream for a client's message: rebuilt from the
 * fields MCP defines for its method, never the message as the client wrote
 * it. A field the policy did not see (params MCP does not define, `_meta`
 * beyond a progress token, the free text of a notification) would reach the
 * upstream undecided: an agent could write what its session may not send
 * into a field nobody judges, past every rule that reads a call's
 * arguments. So a decided request carries what was decided, and the rest
 * carry only identifiers, numbers and names from a closed list.
 *
 * `initialize` is the exception: its client info and capabilities pass as
 * sent (bounded by the message limits), since the upstream's own answer
 * depends on them.
 */
import { isJsonObject } from "../own-members";
import type { JsonRpcId } from "./jsonrpc";
import { boundedName, MAX_URI_LENGTH, type GovernedMethod, type ListingMethod } from "./registry-mapping";

type Params = Record<string, unknown> | undefined;
type Message = Record<string, unknown>;

/** The fields of each governed request the policy judges (registry-mapping.ts reads the same ones). */
const DECIDED_FIELDS: Record<GovernedMethod, string[]> = {
  "tools/call": ["name", "arguments"],
  "resources/read": ["uri"],
  "resources/subscribe": ["uri"],
  "prompts/get": ["name", "arguments"],
  "completion/complete": ["ref", "argument", "context"],
};

const LOG_LEVELS = new Set(["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]);
const MAX_ID_LENGTH = 256;
const MAX_CURSOR_LENGTH = 1024;

const isRequestId = (value: unknown): value is string | number => (typeof value === "string" && value.length <= MAX_ID_LENGTH) || (typeof value === "number" && Number.isFinite(value));

function message(id: JsonRpcId | undefined, method: string, params: Message): Message {
  return { jsonrpc: "2.0", ...(id === undefined ? {} : { id }), method, ...(Object.keys(params).length > 0 ? { params } : {}) };
}

/** `_meta` as far as MCP gives it a meaning from client to server: the progress token a request asks progress under. */
function progressMeta(params: Params): Message {
  const token = isJsonObject(params?._meta) ? params._meta.progressToken : undefined;
  return isRequestId(token) ? { _meta: { progressToken: token } } : {};
}

/** A governed request, once allowed: the fields its decision judged, its progress token, and (a tool call's) task request. */
export function governedMessage(id: JsonRpcId, method: GovernedMethod, params: Params): Message {
  const kept: Message = {};
  for (const field of DECIDED_FIELDS[method]) if (params?.[field] !== undefined) kept[field] = params[field];
  if (method === "tools/call" && isJsonObject(params?.task)) {
    const ttl = params.task.ttl;
    kept.task = typeof ttl === "number" && Number.isFinite(ttl) ? { ttl } : {};
  }
  return message(id, method, { ...kept, ...progressMeta(params) });
}

/** A page request's cursor as params (none for the first page), or why it is not one. */
function cursorParams(params: Params): Message | string {
  const cursor = params?.cursor;
  if (cursor === undefined) return {};
  return boundedName(cursor, MAX_CURSOR_LENGTH) ? { cursor } : `params.cursor must be a string of 1 to ${MAX_CURSOR_LENGTH} characters`;
}

/** The client's answer to one of the upstream's requests, once allowed: its id and what was decided (`{result}` or `{error}`). */
export function answerMessage(id: JsonRpcId | null, decided: Message): Message {
  return { jsonrpc: "2.0", id, ...decided };
}

/** A listing's page request, under the id the gateway sends it with. */
export function listingMessage(id: JsonRpcId, method: ListingMethod, params: Params): Message | string {
  const cursor = cursorParams(params);
  return typeof cursor === "string" ? cursor : message(id, method, { ...cursor, ...progressMeta(params) });
}

/** A request the gateway relays undecided (gateway-route.ts lists them), or why its params are not MCP's. */
export function relayedMessage(id: JsonRpcId, method: string, params: Params): Message | string {
  switch (method) {
    case "ping":
      return message(id, method, {});
    case "logging/setLevel":
      return typeof params?.level === "string" && LOG_LEVELS.has(params.level) ? message(id, method, { level: params.level }) : `params.level must be one of ${[...LOG_LEVELS].join(", ")}`;
    case "resources/unsubscribe":
      return boundedName(params?.uri, MAX_URI_LENGTH) ? message(id, method, { uri: params.uri }) : `params.uri must be a string of 1 to ${MAX_URI_LENGTH} characters`;
    case "tasks/get":
    case "tasks/result":
    case "tasks/cancel":
      return boundedName(params?.taskId, MAX_ID_LENGTH) ? message(id, method, { taskId: params.taskId }) : `params.taskId must be a string of 1 to ${MAX_ID_LENGTH} characters`;
    case "tasks/list": {
      const cursor = cursorParams(params);
      return typeof cursor === "string" ? cursor : message(id, method, cursor);
    }
    default:
      return `${method.slice(0, 64)} is not a request the gateway relays`;
  }
}

/**
 * A notification MCP has clients send, without its free text (a
 * cancellation's reason, a progress message), or why it is not one.
 */
export function notificationMessage(method: string, params: Params): Message | string {
  switch (method) {
    case "notifications/initialized":
    case "notifications/roots/list_changed":
      return message(undefined, method, {});
    case "notifications/cancelled":
      return message(undefined, method, isRequestId(params?.requestId) ? { requestId: params.requestId } : {});
    case "notifications/progress": {
      const [token, progress, total] = [params?.progressToken, params?.progress, params?.total];
      if (!isRequestId(token) || typeof progress !== "number" || !Number.isFinite(progress)) return "notifications/progress needs params.progressToken (a string or number) and params.progress (a number)";
      return message(undefined, method, { progressToken: token, progress, ...(typeof total === "number" && Number.isFinite(total) ? { total } : {}) });
    }
    default:
      return `${method.slice(0, 64)} is not a notification MCP has clients send (initialized, cancelled, progress, roots/list_changed)`;
  }
}

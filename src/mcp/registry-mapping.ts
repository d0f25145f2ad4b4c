/**
 * @module registry-mapping
 * How an MCP request the gateway governs maps to what the policy judges:
 * a `tools/call` by its tool's name, a `resources/read` by the longest URI
 * prefix the tenant registered, a `prompts/get` by its prompt's name, and a
 * `completion/complete` (whose suggestions come from the same data) by the
 * prompt or resource template it completes. Each is decided as a
 * `tool_call` of the Tollgate tool its mapping names, so one policy governs
 * them all, and each carries its mapping's data classes into the session
 * when it returns. The client's answers to the upstream's own requests are
 * judged as a call of the tool the registration names for them. Anything
 * unmapped is named so that no policy knows it (`mcp:<server>/…`): refused
 * as an unknown tool, and on the record. The listings (`tools/list`,
 * `resources/list`, `resources/templates/list`, `prompts/list`) are
 * filtered by the same mappings.
 */
import { isJsonObject, ownMember } from "../own-members";
import { DECISION_LIMITS, findLimitViolation } from "../schema/json-limits";
import type { StoredServer, ToolMapping } from "./upstream-schema";

export type GovernedMethod = "tools/call" | "resources/read" | "resources/subscribe" | "prompts/get" | "completion/complete";
/** Where in the registry a subject is mapped. */
export type RegistryTable = "tools" | "resources" | "prompts";
export type ListingMethod = "tools/list" | "resources/list" | "resources/templates/list" | "prompts/list";

export const isGovernedMethod = (method: string): method is GovernedMethod =>
  method === "tools/call" || method === "resources/read" || method === "resources/subscribe" || method === "prompts/get" || method === "completion/complete";
export const isListingMethod = (method: string): method is ListingMethod =>
  method === "tools/list" || method === "resources/list" || method === "resources/templates/list" || method === "prompts/list";

/** What one governed request is about. */
export interface Subject {
  method: GovernedMethod;
  table: RegistryTable;
  /** The upstream's name for it: the tool, the resource's URI (or template, for a completion), the prompt. */
  name: string;
  mapping: ToolMapping | undefined;
  /** The tool the policy judges it as. */
  policyTool: string;
  /** What the policy sees as the call's arguments: a tool's or prompt's arguments, a resource's `{uri}`, a completion's `{ref, argument}`. */
  args: Record<string, unknown>;
}

/** A resource's URI or a listing's name, at most this long, for the decision's record. */
export const MAX_URI_LENGTH = 2048;
const MAX_NAME_LENGTH = 128;

/** The longest registered prefix that starts `uri`; prefixes are few (at most 200), so a scan is enough. */
function longestPrefix(resources: Record<string, ToolMapping>, uri: string): string | undefined {
  let best: string | undefined;
  for (const prefix of Object.keys(resources)) {
    if (uri.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best;
}

function resourceMapping(resources: Record<string, ToolMapping>, uri: string): ToolMapping | undefined {
  const best = longestPrefix(resources, uri);
  return best === undefined ? undefined : resources[best];
}

/** A `.` or `..` segment: what it names is up to the upstream that resolves it. */
const DOT_SEGMENT = /(^|[/\\])\.{1,2}([/\\?#]|$)/;

/**
 * Whether `uri`, its percent-escapes decoded, could name something other
 * than the prefix it is written under says: it starts with a longer
 * registered prefix, or has a dot segment. RFC 3986 reads `%70ayroll` as
 * `payroll`, and an upstream that decodes its URIs serves what the longer
 * prefix names, while the text would be judged by a shorter one. Decoded
 * until nothing changes, for an upstream that decodes twice (`%2570` is
 * `%70`, then `p`; `%252e%252e` is `..`). Prefixes are visible ASCII, so
 * only escapes of ASCII can make one match.
 */
function decodedElsewhere(resources: Record<string, ToolMapping>, uri: string): boolean {
  let decoded = uri;
  for (let previous = ""; decoded !== previous; ) {
    previous = decoded;
    decoded = decoded.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  if (decoded === uri) return false;
  if (DOT_SEGMENT.test(decoded)) return true;
  const [asWritten, asDecoded] = [longestPrefix(resources, uri), longestPrefix(resources, decoded)];
  return asDecoded !== undefined && asDecoded.length > (asWritten?.length ?? -1);
}

const own = (table: Record<string, ToolMapping> | undefined, name: string) => (table ? ownMember(table, name) : undefined);

/** A resource template is mapped by the literal part of its URI before the first variable: every URI it expands to starts with that. */
const templateLiteral = (template: string) => template.split("{")[0];

export function mappingFor(config: StoredServer, table: RegistryTable, name: string): ToolMapping | undefined {
  if (table === "tools") return own(config.tools, name);
  if (table === "prompts") return own(config.prompts, name);
  return name.length > 0 ? resourceMapping(config.resources ?? {}, name) : undefined;
}

/** How an unmapped request is named to the policy: no policy knows it, so it is refused (unknown_tool) and on the record. */
export function unmappedName(server: string, table: RegistryTable, name: string): string {
  if (table === "tools") return `mcp:${server}/${name}`;
  if (table === "prompts") return `mcp:${server}/prompts/${name}`;
  return `mcp:${server}/resources/read`;
}

/**
 * A URI with a `.` or `..` segment (written out or percent-encoded), a
 * percent-encoded slash or backslash, a backslash, or a control character
 * could name something other than what the prefix it starts with says,
 * once the upstream decodes and resolves it; it is refused rather than
 * judged by that prefix.
 */
const AMBIGUOUS_URI = /(^|[/\\])(\.|%2e){1,2}([/\\?#]|$)|%2f|%5c|\\|[\x00-\x20\x7f]/i;

/** The schemes whose host the URL standard normalizes (lowercase, punycode, no default port, decoded). */
const SPECIAL_SCHEMES = new Set(["http:", "https:", "ws:", "wss:", "ftp:", "file:"]);

/**
 * Why a URI is not written as an upstream that parses it (`new URL(uri)`, as
 * the official SDKs do) would read it, or undefined. A prefix is matched
 * against the text as written, so `HTTPS://HR.example/`, `https://hr.example:443/`,
 * `https://hr%2eexample/` or `https://docs.example@hr.example/` could be
 * judged by another prefix than the one that names what the upstream serves.
 */
function unnormalizedUri(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined; // Not a URL to anyone: matched as the text it is.
  }
  if (!uri.startsWith(url.protocol)) return `its scheme is written ${url.protocol.slice(0, -1)} in lowercase`;
  if (!SPECIAL_SCHEMES.has(url.protocol)) return undefined;
  if (url.username !== "" || url.password !== "") return "it names a user before its host";
  const authority = `${url.protocol}//${url.host}`;
  const asWritten = uri.startsWith(authority) && /^([/?#]|$)/.test(uri.slice(authority.length));
  if (url.hostname.endsWith(".") || !asWritten) return `its host is written ${url.host} (lowercase, decoded, no default port, no trailing dot)`;
  return undefined;
}

const DECODED_ELSEWHERE = (field: string) => `${field} has a percent-escape that, decoded, puts it under another registered prefix than the one it is written under, or makes a dot segment: write it decoded`;

function checkedArguments(args: unknown): Record<string, unknown> | string {
  if (!isJsonObject(args)) return "params.arguments must be an object";
  const violation = findLimitViolation(args, DECISION_LIMITS);
  return violation ? `arguments${violation.path ? `.${violation.path}` : ""}: ${violation.message}` : args;
}

/** A non-empty string of at most `max` characters. */
export const boundedName = (value: unknown, max: number): value is string => typeof value === "string" && value.length > 0 && value.length <= max;

/** What the client's answer to one of the upstream's requests is judged as. */
export interface AnswerSubject {
  policyTool: string;
  risk_floor: ToolMapping["risk_floor"];
  /** The answer as the policy sees it: `{result}` or `{error}`, as the client sent it. */
  args: Record<string, unknown>;
}

/**
 * The client's answer as the policy judges it: a call of the tool the
 * registration maps answers to (unmapped: `mcp:<server>/answers`, which no
 * policy knows), the answer's result or error as its arguments, or what is
 * wrong with it (beyond the decision's limits).
 */
export function answerSubjectOf(server: { name: string; config: StoredServer }, answer: { result?: unknown; error?: unknown }): AnswerSubject | string {
  const args = checkedArguments(answer.error !== undefined ? { error: answer.error } : { result: answer.result ?? null });
  if (typeof args === "string") return `the answer is beyond what a decision takes in (${args})`;
  const mapping = server.config.answers;
  return { policyTool: mapping?.tool ?? `mcp:${server.name}/answers`, risk_floor: mapping?.risk_floor, args };
}

/** The request's subject, or what is wrong with its params (an invalid-params error). */
export function subjectOf(server: { name: string; config: StoredServer }, method: GovernedMethod, params: Record<string, unknown> | undefined): Subject | string {
  let table: RegistryTable;
  let name: string;
  let args: Record<string, unknown> | string;
  if (method === "resources/read" || method === "resources/subscribe") {
    // A subscription is judged as a read of what it subscribes to: its updates are worth nothing else.
    const uri = params?.uri;
    if (!boundedName(uri, MAX_URI_LENGTH)) return `${method} names its resource in params.uri (1 to ${MAX_URI_LENGTH} characters)`;
    if (AMBIGUOUS_URI.test(uri)) return "params.uri has a dot segment, an encoded slash or backslash, a backslash or a control character: such a URI is refused, since what it names is up to the upstream";
    const unnormalized = unnormalizedUri(uri);
    if (unnormalized) return `params.uri is refused unless written as the URL standard writes it: ${unnormalized}`;
    if (decodedElsewhere(server.config.resources ?? {}, uri)) return DECODED_ELSEWHERE("params.uri");
    [table, name, args] = ["resources", uri, { uri }];
  } else if (method === "completion/complete") {
    const ref = params?.ref;
    if (!isJsonObject(ref) || (ref.type !== "ref/prompt" && ref.type !== "ref/resource")) return "completion/complete names what it completes in params.ref (ref/prompt or ref/resource)";
    const argument = params?.argument;
    if (!isJsonObject(argument) || typeof argument.name !== "string" || typeof argument.value !== "string") return "params.argument must be an object with a string name and value";
    if (ref.type === "ref/prompt") {
      if (!boundedName(ref.name, MAX_NAME_LENGTH)) return `params.ref.name names the prompt (1 to ${MAX_NAME_LENGTH} characters)`;
      [table, name] = ["prompts", ref.name];
    } else {
      if (!boundedName(ref.uri, MAX_URI_LENGTH)) return `params.ref.uri names the resource template (1 to ${MAX_URI_LENGTH} characters)`;
      if (AMBIGUOUS_URI.test(templateLiteral(ref.uri))) return "params.ref.uri has a dot segment, an encoded slash or backslash, a backslash or a control character";
      const unnormalized = unnormalizedUri(templateLiteral(ref.uri));
      if (unnormalized) return `params.ref.uri is refused unless written as the URL standard writes it: ${unnormalized}`;
      if (decodedElsewhere(server.config.resources ?? {}, templateLiteral(ref.uri))) return DECODED_ELSEWHERE("params.ref.uri");
      [table, name] = ["resources", ref.uri];
    }
    args = checkedArguments({ ref, argument, ...(params?.context !== undefined ? { context: params.context } : {}) });
  } else {
    const what = method === "tools/call" ? "tool" : "prompt";
    if (!boundedName(params?.name, MAX_NAME_LENGTH)) return `${method} names its ${what} in params.name (1 to ${MAX_NAME_LENGTH} characters)`;
    [table, name, args] = [method === "tools/call" ? "tools" : "prompts", params.name as string, checkedArguments(params?.arguments ?? {})];
  }
  if (typeof args === "string") return args;
  const mapping = subjectMapping(server.config, { method, table, name });
  return { method, table, name, mapping, policyTool: mapping?.tool ?? unmappedName(server.name, table, name), args };
}

/** The mapping a subject is judged by: a completion of a resource template, by the template's literal prefix. */
function subjectMapping(config: StoredServer, subject: Pick<Subject, "method" | "table" | "name">): ToolMapping | undefined {
  const { method, table, name } = subject;
  return mappingFor(config, table, method === "completion/complete" && table === "resources" ? templateLiteral(name) : name);
}

/** Where a listing keeps its entries, and the name each entry is mapped by. */
const LISTINGS: Record<ListingMethod, { field: string; key: string }> = {
  "tools/list": { field: "tools", key: "name" },
  "prompts/list": { field: "prompts", key: "name" },
  "resources/list": { field: "resources", key: "uri" },
  "resources/templates/list": { field: "resourceTemplates", key: "uriTemplate" },
};

export const listingField = (method: ListingMethod) => LISTINGS[method].field;

/** The mapping a listed entry is judged by, if it has one. */
export function listedMapping(config: StoredServer, method: ListingMethod, entry: unknown): ToolMapping | undefined {
  if (!isJsonObject(entry)) return undefined;
  const key = entry[LISTINGS[method].key];
  if (typeof key !== "string") return undefined;
  if (method === "tools/list") return mappingFor(config, "tools", key);
  if (method === "prompts/list") return mappingFor(config, "prompts", key);
  return mappingFor(config, "resources", method === "resources/list" ? key : templateLiteral(key));
}

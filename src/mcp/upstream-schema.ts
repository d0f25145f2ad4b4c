/**
 * @module upstream-schema
 * What a tenant registers for an upstream MCP server: where it is, the
 * headers that carry its credentials (kept encrypted, never shown again),
 * how long the gateway waits for it, and for each upstream tool the Tollgate
 * tool name the policy judges it as, its tier floor, and the data classes
 * its results carry. Resources (by URI prefix) and prompts (by name) are
 * mapped the same way, since reading them brings data into the session as
 * a tool's result does, and so are the client's answers to the upstream's
 * own requests, which take data out as a call does. The same schema checks
 * what an edge reads back from the registry object, so a corrupt entry is
 * refused, never half-used.
 */
import { z } from "zod";
import { RISK_TIERS } from "../schema/risk-tier";
import { dataClassSchema } from "../schema/data-class";
import { hostOf, isInsideNetwork, isLoopback } from "../network-hosts";

export const SERVER_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const SERVER_NAME_MESSAGE = "server names are 1 to 63 lowercase letters, digits, _ and -, starting with a letter or digit";

/** Headers the gateway itself sets on every upstream request; a credential may not replace them. */
const RESERVED_HEADERS = new Set(["host", "content-length", "content-type", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id", "connection", "transfer-encoding"]);

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 10_000;
export const MAX_UPSTREAM_TIMEOUT_MS = 120_000;

export const toolMappingSchema = z.strictObject({
  /** The name the policy judges the call as (a tool in policy data). */
  tool: z.string().min(1).max(256),
  risk_floor: z.enum(RISK_TIERS).optional(),
  /** Classes of data this tool's results carry; the session records them when it returns. */
  data_classes: z.array(dataClassSchema).max(16).optional(),
});

/**
 * How the client's answers to the upstream's own requests are judged: a
 * sampling result, an elicitation's reply or a list of roots goes to the
 * upstream as surely as a call's arguments do. No data classes: an answer
 * brings nothing into the session.
 */
export const answerMappingSchema = toolMappingSchema.omit({ data_classes: true });

const upstreamUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "https:" || url.protocol === "http:") && url.username === "" && url.password === "" && url.hash === "";
    } catch {
      return false;
    }
  }, "an http(s) URL without user info or fragment");

const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, "header names are letters, digits and dashes");
const headerValue = z.string().min(1).max(8192).regex(/^[\x20-\x7e]+$/, "header values are visible ASCII");

/**
 * Why the gateway may not send a tenant's requests to `value` (a URL the
 * schema passed), or undefined when it may. Not to a host inside a network
 * (network-hosts.ts): a tenant's administrator could otherwise have the edge
 * probe what it reaches, and its agents read the answers' statuses and
 * faults. Loopback only where the deployment allows it
 * (MCP_UPSTREAMS_TO_LOOPBACK = "on": local development and the tests, whose
 * upstreams listen there). Never the gateway itself, whose requests would
 * come back to it, one more each time.
 */
export function upstreamDestinationProblem(value: string, env: { MCP_UPSTREAMS_TO_LOOPBACK?: string }, gatewayOrigin: string): string | undefined {
  const url = new URL(value);
  if (url.origin === gatewayOrigin) return "the URL is this gateway's own";
  const host = hostOf(url);
  if (env.MCP_UPSTREAMS_TO_LOOPBACK === "on" && isLoopback(host)) return undefined;
  if (isInsideNetwork(host)) return `${host} is inside a network, not an endpoint the gateway may call`;
  return undefined;
}

/** A resource URI prefix: the longest one that starts a URI maps it. */
const uriPrefix = z.string().min(1).max(1024).regex(/^[\x21-\x7e]+$/, "URI prefixes are visible ASCII without spaces");

/** Shared by what an admin sends and what is stored: everything but the credentials. */
const serverFields = {
  url: upstreamUrl,
  timeout_ms: z.number().int().min(100).max(MAX_UPSTREAM_TIMEOUT_MS).optional(),
  tools: z.record(z.string().min(1).max(128), toolMappingSchema).refine((tools) => Object.keys(tools).length <= 500, "at most 500 tools"),
  /** `resources/read` by URI prefix (longest wins); an unmapped resource is judged as an unknown tool. */
  resources: z.record(uriPrefix, toolMappingSchema).refine((resources) => Object.keys(resources).length <= 200, "at most 200 resource prefixes").optional(),
  /** `prompts/get` by prompt name; an unmapped prompt is judged as an unknown tool. */
  prompts: z.record(z.string().min(1).max(128), toolMappingSchema).refine((prompts) => Object.keys(prompts).length <= 500, "at most 500 prompts").optional(),
  /** The client's answers to the upstream's requests; unmapped, every answer is judged as an unknown tool and refused. */
  answers: answerMappingSchema.optional(),
};

/** `PUT /v1/admin/mcp/:tenant/servers/:server`. Without `credentials`, an update keeps the ones stored. */
export const upstreamRegistrationSchema = z.strictObject({
  ...serverFields,
  credentials: z
    .strictObject({
      headers: z.record(headerName, headerValue).refine((headers) => Object.keys(headers).length <= 16, "at most 16 headers"),
    })
    .refine((c) => Object.keys(c.headers).every((name) => !RESERVED_HEADERS.has(name.toLowerCase())), "credentials may not set a header the gateway sets itself")
    .optional(),
  /** Drop the stored credentials. */
  clear_credentials: z.literal(true).optional(),
});

export type UpstreamRegistration = z.infer<typeof upstreamRegistrationSchema>;

/** What the registry stores per server, besides the sealed credentials. */
export const storedServerSchema = z.strictObject(serverFields);
export type StoredServer = z.infer<typeof storedServerSchema>;
export type ToolMapping = z.infer<typeof toolMappingSchema>;

/** The sealed credentials' plaintext. */
export const credentialHeadersSchema = z.record(headerName, headerValue);

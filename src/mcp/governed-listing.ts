/**
 * @module governed-listing
 * The listings through the gateway (`tools/list`, `resources/list`,
 * `resources/templates/list`, `prompts/list`): the upstream's list, less
 * what the agent may not use. Each entry is judged by the Tollgate tool its
 * mapping names (registry-mapping.ts, decision/tool-listing.ts), all of a
 * listing's in one decision; an entry the policy denies, or that the tenant
 * did not map, is left out; one that would need approval is listed and
 * marked, in its `_meta["tollgate/approval"]` and in its description, so a
 * model and a program both see it. Pagination passes through unchanged.
 *
 * A listing goes upstream under an id of the gateway's own, not the
 * client's. An upstream sends a reply where the request with its id came
 * from (the official SDKs keep one stream per id), so a client that sent
 * another request under the same id while the listing was in flight would
 * otherwise get the unfiltered list as that request's answer.
 */
import { listTools } from "../decision/tool-listing";
import { targetOf, timeoutOf, type GatewayContext } from "./gateway-context";
import { errorMessage, INTERNAL_ERROR, INVALID_PARAMS, UPSTREAM_ERROR, type JsonRpcId } from "./jsonrpc";
import { listedMapping, listingField, type ListingMethod } from "./registry-mapping";
import { sendToUpstream, UpstreamFault } from "./upstream-call";
import { eventIdsFor } from "./event-id";
import { listingMessage } from "./upstream-message";
import { jsonResponse, relay } from "./upstream-relay";

export const APPROVAL_META_KEY = "tollgate/approval";

/** The upstream's reply to a listing, filtered, as the answer to the client's request `id` (whatever id it went upstream under). */
export async function governedList(context: GatewayContext, reply: Record<string, unknown>, id: JsonRpcId, method: ListingMethod): Promise<Record<string, unknown>> {
  const result = reply.result as Record<string, unknown> | undefined;
  const field = listingField(method);
  if (!result || typeof result !== "object" || !Array.isArray(result[field])) return { ...reply, id };
  const config = context.server.config;
  const offered = (result[field] as unknown[]).flatMap((entry) => {
    const mapping = listedMapping(config, method, entry);
    return mapping ? [{ entry: entry as Record<string, unknown>, tool: mapping.tool }] : [];
  });
  let verdicts: Record<string, string> = {};
  if (offered.length > 0) {
    try {
      const names = [...new Set(offered.map(({ tool }) => tool))];
      verdicts = await listTools(context.env, { waitUntil: context.background }, context.identity, context.session.tollgate_session, names, context.location, context.colo);
    } catch (error) {
      return errorMessage(id, INTERNAL_ERROR, `the listing could not be decided: ${(error as Error).message}`);
    }
  }
  const listed = offered.flatMap(({ entry, tool }) => {
    const verdict = Object.hasOwn(verdicts, tool) ? verdicts[tool] : "deny";
    if (verdict === "allow") return [entry];
    if (verdict !== "require_approval") return [];
    const meta = typeof entry._meta === "object" && entry._meta !== null ? (entry._meta as Record<string, unknown>) : {};
    const description = typeof entry.description === "string" ? `${entry.description} ` : "";
    const each = method === "tools/list" ? "call" : method === "prompts/list" ? "use" : "read";
    return [{ ...entry, description: `${description}(Needs a person's approval before each ${each}.)`, _meta: { ...meta, [APPROVAL_META_KEY]: "required" } }];
  });
  return { ...reply, id, result: { ...result, [field]: listed } };
}

export async function governedListing(context: GatewayContext, id: JsonRpcId, method: ListingMethod, params: Record<string, unknown> | undefined): Promise<Response> {
  const onFault = (fault: UpstreamFault) => errorMessage(id, UPSTREAM_ERROR, fault.message, { fault: fault.fault });
  const upstreamId = `tollgate-list-${crypto.randomUUID()}`;
  const outgoing = listingMessage(upstreamId, method, params);
  if (typeof outgoing === "string") return jsonResponse(errorMessage(id, INVALID_PARAMS, outgoing));
  try {
    const exchange = await sendToUpstream(targetOf(context), { method: "POST", body: JSON.stringify(outgoing), timeoutMs: timeoutOf(context) });
    const eventId = eventIdsFor(context.env, context.session, id, { kind: "list", method, upstream_request: upstreamId });
    return await relay(targetOf(context), exchange, upstreamId, (reply) => governedList(context, reply, id, method), onFault, { background: context.background, eventId });
  } catch (error) {
    if (!(error instanceof UpstreamFault) || error.fault === "session_gone") throw error;
    return jsonResponse(onFault(error));
  }
}

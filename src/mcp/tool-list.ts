/**
 * @module tool-list
 * `tools/list` through the gateway: the upstream's list, less what the
 * agent may not call. Each listed tool is judged by its Tollgate name
 * (decision/tool-listing.ts); a tool the policy denies, or that the tenant
 * did not map to a Tollgate name, is left out; one that would need approval
 * is listed and marked, in its `_meta["tollgate/approval"]` and in its
 * description, so a model and a program both see it. Pagination passes
 * through unchanged.
 */
import { listTools } from "../decision/tool-listing";
import { targetOf, timeoutOf, type GatewayContext } from "./gateway-context";
import { errorMessage, INTERNAL_ERROR, UPSTREAM_ERROR, type JsonRpcId } from "./jsonrpc";
import { sendToUpstream, UpstreamFault } from "./upstream-call";
import { eventIdsFor } from "./event-id";
import { jsonResponse, relay } from "./upstream-relay";

export const APPROVAL_META_KEY = "tollgate/approval";

export async function governedList(context: GatewayContext, reply: Record<string, unknown>, id: JsonRpcId): Promise<Record<string, unknown>> {
  const result = reply.result as { tools?: unknown } | undefined;
  if (!result || typeof result !== "object" || !Array.isArray(result.tools)) return reply;
  const mappings = context.server.config.tools;
  const offered = result.tools.filter((tool): tool is Record<string, unknown> => typeof tool === "object" && tool !== null && typeof (tool as { name?: unknown }).name === "string" && Object.hasOwn(mappings, (tool as { name: string }).name));
  const names = [...new Set(offered.map((tool) => mappings[tool.name as string].tool))];
  let verdicts: Record<string, string>;
  try {
    verdicts = await listTools(context.env, { waitUntil: context.background }, context.identity, context.session.tollgate_session, names, context.location, context.colo);
  } catch (error) {
    return errorMessage(id, INTERNAL_ERROR, `the tool listing could not be decided: ${(error as Error).message}`);
  }
  const tools = offered.flatMap((tool) => {
    const verdict = verdicts[mappings[tool.name as string].tool] ?? "deny";
    if (verdict === "deny") return [];
    if (verdict === "allow") return [tool];
    const meta = typeof tool._meta === "object" && tool._meta !== null ? (tool._meta as Record<string, unknown>) : {};
    const description = typeof tool.description === "string" ? `${tool.description} ` : "";
    return [{ ...tool, description: `${description}(Needs a person's approval before each call.)`, _meta: { ...meta, [APPROVAL_META_KEY]: "required" } }];
  });
  return { ...reply, result: { ...result, tools } };
}

export async function governedToolList(context: GatewayContext, id: JsonRpcId, raw: Record<string, unknown>): Promise<Response> {
  const onFault = (fault: UpstreamFault) => errorMessage(id, UPSTREAM_ERROR, fault.message, { fault: fault.fault });
  try {
    const exchange = await sendToUpstream(targetOf(context), { method: "POST", body: JSON.stringify(raw), timeoutMs: timeoutOf(context) });
    const eventId = eventIdsFor(context.env, context.session, id, { kind: "list" });
    return await relay(targetOf(context), exchange, id, (reply) => governedList(context, reply, id), onFault, { background: context.background, eventId });
  } catch (error) {
    if (!(error instanceof UpstreamFault) || error.fault === "session_gone") throw error;
    return jsonResponse(onFault(error));
  }
}

/**
 * @module elicitation-notices
 * `notifications/elicitation/complete` (MCP 2025-11-25) on the standalone
 * stream of a client that declared URL-mode elicitation. The gateway
 * elicits an approval with the approval's id as the `elicitationId`
 * (governed-request.ts); once an approver approves or rejects it, or it
 * expires, the client is told on its GET stream, so it can retry the
 * request at once instead of polling.
 *
 * The session object long-polls for changes to the approvals this agent
 * asked for in the MCP session's Tollgate session since the MCP session
 * began, so a notice goes out as soon as the decision is committed. The
 * notices carry no event ids: a stream that opens announces again every
 * elicitation that ended unused, which covers what a client missed while
 * it was away, and the spec has clients ignore ids they know are complete.
 */
import { released } from "../rpc-result";
import { sessionObject } from "../session/objects";
import type { ApprovalChanges } from "../session/types";
import type { EventChannel } from "./event-channel";
import type { GatewayContext } from "./gateway-context";

/** How long one long-poll of the session object waits before it asks again. */
const WAIT_MS = 25_000;

const ELICITATION_COMPLETE = "notifications/elicitation/complete";

/** Runs until the channel ends; rejects when the session object cannot be asked (the stream then ends, and the client reconnects). */
export async function announceSettledElicitations(context: GatewayContext, channel: EventChannel): Promise<void> {
  const { tenant, agent } = context.identity;
  const session = sessionObject(context.env, tenant, agent, context.session.tollgate_session);
  let known: string[] | null = null;
  while (channel.open) {
    const changes: ApprovalChanges = released(await session.approvalChanges(agent, context.session.created_ms, known, WAIT_MS));
    for (const { id } of changes.settled) await channel.send({ jsonrpc: "2.0", method: ELICITATION_COMPLETE, params: { elicitationId: id } });
    known = changes.pending;
  }
}

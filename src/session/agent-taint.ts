/**
 * @module agent-taint
 * The classes of data an agent has read, across all its sessions. Session
 * taint alone can be shed by moving on: an MCP client opens one session per
 * server, and an agent names its own sessions, so PII read through one and
 * sent out through another would pass. So every class a session records is
 * also recorded with the agent (the registered agent at the root of a
 * sub-agent's tree, whose object also counts agent-wide limits), and a
 * decision that reaches outside (an external-tier tool) is evaluated with the
 * classes any of the agent's sessions read within the policy's window
 * (`data_flows.session_taint.agent_window_s`, the longest any layer sets).
 * Only such decisions ask the agent's object, so the common path keeps its
 * one round trip; when the object cannot say, the action is refused.
 */
import type { Identity } from "../identity/types";
import { released } from "../rpc-result";
import { withTimeout } from "./client";
import { agentObject } from "./objects";

/** The window when no layer sets one: an hour. */
export const DEFAULT_AGENT_TAINT_WINDOW_S = 3_600;
/** The longest window honoured: a layer's data cannot make the object keep answering for ever. */
export const MAX_AGENT_TAINT_WINDOW_S = 30 * 86_400;

/** The agent whose object holds the taint: the root of a sub-agent's tree, so a child cannot start clean of its parent's reads either. */
export function taintedAgent(identity: Pick<Identity, "agent" | "delegation">): string {
  return identity.delegation.root_agent ?? identity.agent;
}

/** How far back the agent's reads count: the longest window any layer sets (layers may only lengthen it). */
export function agentTaintWindowS(layers: unknown[]): number {
  const windows = layers
    .map((data) => (data as { tollgate?: { params?: { data_flows?: { session_taint?: { agent_window_s?: unknown } } } } } | undefined)?.tollgate?.params?.data_flows?.session_taint?.agent_window_s)
    .filter((value): value is number => typeof value === "number" && Number.isFinite(value) && value >= 0);
  return Math.min(windows.length > 0 ? Math.max(...windows) : DEFAULT_AGENT_TAINT_WINDOW_S, MAX_AGENT_TAINT_WINDOW_S);
}

/** A record the agent's object refused: it holds as many classes as it keeps, and drops none to make room. */
export class AgentClassesRefused extends Error {}

/**
 * Records, with the agent, classes a session has just recorded. Throws
 * AgentClassesRefused when the object refuses them, and another error when
 * it cannot be reached in time.
 */
export async function recordAgentClasses(env: Env, identity: Pick<Identity, "tenant" | "agent" | "delegation">, classes: string[], nowMs: number, timeoutMs: number): Promise<void> {
  const outcome = released(await withTimeout(agentObject(env, identity.tenant, taintedAgent(identity)).recordClasses(classes, nowMs), timeoutMs));
  if (outcome.refused !== null) throw new AgentClassesRefused(outcome.refused);
}

export type AgentTaint = { known: true; classes: string[] } | { known: false; message: string };

/** The classes the agent's sessions read within the window, or why they could not be learnt. */
export async function agentTaint(env: Env, identity: Pick<Identity, "tenant" | "agent" | "delegation">, layers: unknown[], nowMs: number, timeoutMs: number): Promise<AgentTaint> {
  const sinceMs = nowMs - agentTaintWindowS(layers) * 1000;
  try {
    return { known: true, classes: released(await withTimeout(agentObject(env, identity.tenant, taintedAgent(identity)).classesSince(sinceMs), timeoutMs)) };
  } catch (error) {
    return { known: false, message: (error as Error).message };
  }
}

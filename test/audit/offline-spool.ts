/**
 * Offline decisions as the agent SDK spools them, for the upload tests: a
 * plausible record of the offline agent, and records chained into spool
 * entries the way the SDK chains them.
 */
import { offlineDecisionId, type OfflineRecord } from "../../packages/agent/src/offline-record";
import { entryHash, SPOOL_GENESIS, type SpoolEntry } from "../../packages/agent/src/spool";
import type { AgentSpec } from "../identity/credentials";

export const OFFLINE_AGENT: AgentSpec = { tenant: "acme", agent: "offline-agent", role: "support" };

export function offlineRecord(session: string, overrides: Partial<OfflineRecord> = {}, now = Date.now()): OfflineRecord {
  return {
    decision_id: offlineDecisionId(now),
    time: new Date(now).toISOString(),
    tenant: "acme",
    agent: "offline-agent",
    session,
    action_type: "tool_call",
    tool: "tickets.read",
    action_hash: `sha256:${"a".repeat(64)}`,
    decision: "allow",
    rules: [],
    obligations: [],
    risk_tier: "low",
    source: "local_policy",
    layers: [{ scope: "global", digest: `sha256:${"b".repeat(64)}`, version: 3 }],
    cost: { tokens: 0, api_calls: 1, cost_usd: 0 },
    last_contact: new Date(now - 60_000).toISOString(),
    ...overrides,
  };
}

/** The records as consecutive spool entries from `startSeq`, each chained to the one before. */
export async function spooled(records: OfflineRecord[], startSeq = 1, prev = SPOOL_GENESIS): Promise<SpoolEntry[]> {
  const entries: SpoolEntry[] = [];
  for (const [i, item] of records.entries()) {
    const hash = await entryHash(prev, item);
    entries.push({ seq: startSeq + i, prev, hash, record: item });
    prev = hash;
  }
  return entries;
}

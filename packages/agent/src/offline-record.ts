/**
 * @module offline-record
 * A decision this SDK made without the edge, as it is spooled and later
 * uploaded into the tenant's audit log. It carries what an audit record
 * carries (who, what, which tier, the outcome, the rules, the layers that
 * decided) and how it was made: by the last signed policy evaluated
 * locally, or by the tier's fail mode; against which budget lease and at
 * what cost. Arguments are only those the policy lets be logged.
 */
import type { Verdict } from "./receipt.ts";
import { uuidV7 } from "./uuid-v7.ts";

export type OfflineSource = "local_policy" | "fail_mode";

export interface OfflineRecord {
  /** `off-` and a UUIDv7: unique, time-ordered, never an edge's id. */
  decision_id: string;
  time: string;
  /** Null when the agent decided before it ever reached the edge: the uploading credential says whose it is. */
  tenant: string | null;
  agent: string | null;
  session: string;
  action_type: string;
  tool: string | null;
  /** sha256 of the canonical action, as a receipt would bind it. */
  action_hash: string;
  decision: Verdict;
  rules: string[];
  obligations: unknown[];
  risk_tier: string;
  source: OfflineSource;
  /** The layers that decided (local evaluation only). */
  layers?: Array<{ scope: string; digest: string; version: number }>;
  region?: string;
  /** The budget lease an allowed action with a cost drew on, and what it cost. */
  lease_id?: string;
  cost?: { tokens: number; api_calls: number; cost_usd: number };
  args?: Record<string, unknown>;
  args_redacted?: boolean;
  /** When the SDK last heard from the edge: how long it had been offline. */
  last_contact: string | null;
}

/** A UUIDv7 with the offline prefix: time-ordered like the edge's ids, never one of them. */
export function offlineDecisionId(nowMs: number): string {
  return `off-${uuidV7(nowMs)}`;
}

export const OFFLINE_DECISION_ID = /^off-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

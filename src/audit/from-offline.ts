/**
 * @module from-offline
 * The audit record of a decision an agent made offline and uploaded from
 * its spool. It has the shape of every other record, so queries, exports
 * and verification treat it alike, plus `offline`: how it was made (the
 * last signed policy evaluated locally, or the tier's fail mode), against
 * which lease and at what cost, when the agent last reached an edge, when
 * it was uploaded and by which credential, and its place in the agent's
 * spool chain, so an auditor can see gaps in what an agent reported.
 */
import type { OfflineRecord } from "../../packages/agent/src/offline-record.ts";
import type { SpoolEntry } from "../../packages/agent/src/spool.ts";
import type { Identity } from "../identity/types";
import type { AuditRecord } from "./record";

/** `outOfBounds`: why the offline bounds governing at upload could not have produced this decision, if they could not. */
export function offlineAuditRecord(entry: SpoolEntry, uploader: Identity, uploadedAtMs: number, chainGap: boolean, outOfBounds?: string[]): AuditRecord {
  const record: OfflineRecord = entry.record;
  const audit: AuditRecord = {
    kind: "decision",
    decision_id: record.decision_id,
    time: record.time,
    location: "offline",
    region: record.region ?? "unknown",
    region_source: "offline",
    // The uploader's: a record names the same tenant and agent (checked), or none if made before the agent reached an edge.
    tenant: uploader.tenant,
    agent: uploader.agent,
    credential: { kind: uploader.credential.kind, id: uploader.credential.id },
    session: record.session,
    risk_tier: record.risk_tier,
    action_type: record.action_type,
    tool: record.tool,
    decision: record.decision,
    rules: record.rules,
    obligations: record.obligations,
    layers: record.layers ?? [],
    mode: "enforce",
    fail_mode_applied: record.source === "fail_mode",
    stale: false,
    eval_us: 0,
    offline: {
      source: record.source,
      action_hash: record.action_hash,
      last_contact: record.last_contact,
      uploaded_at: new Date(uploadedAtMs).toISOString(),
      ...(record.lease_id ? { lease_id: record.lease_id } : {}),
      ...(record.cost ? { cost: record.cost } : {}),
      spool: { seq: entry.seq, prev: entry.prev, hash: entry.hash, ...(chainGap ? { gap_before: true } : {}) },
      ...(outOfBounds && outOfBounds.length > 0 ? { out_of_bounds: outOfBounds } : {}),
    },
  };
  if (record.args) audit.args = record.args;
  if (record.args_redacted) audit.args_redacted = true;
  return audit;
}

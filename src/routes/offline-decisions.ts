/**
 * @module offline-decisions
 * `POST /v1/offline/decisions`: an agent uploads the decisions it made
 * while it could not reach an edge, from its hash-chained spool
 * (packages/agent/src/spool.ts), up to 100 entries per request:
 *
 *   {"entries": [{"seq": 1, "prev": "sha256:…", "hash": "sha256:…", "record": {…}}, …]}
 *
 * Each entry is checked on its own, so one bad entry never costs another:
 * it must be the uploading agent's (tenant and agent from the credential;
 * a record made before the agent ever reached an edge names neither and is
 * the uploader's),
 * have an offline decision id no other decision in the log holds (the same
 * spool entry sent again is taken again, as a copy), a hash that matches its
 * record, and a time
 * neither in the future nor older than the spend records are kept. Good
 * entries are appended to the tenant's audit log, acknowledged, before the
 * answer (appends are idempotent by decision id, so an upload cut off
 * midway is simply sent again), and then what they cost is debited from
 * their sessions, once per decision id. The answer lists what was
 * accepted and what was rejected and why; the agent drops both from its
 * spool. Rejections are counted in the log's metrics.
 *
 * An accepted record is what the agent says it did, so it is never refused
 * for what it says; but one the offline bounds of the policy governing now
 * could not have produced (a tier not decided offline, a time past the
 * offline window since the agent last reached an edge, a spend without a
 * lease, or with one its session never granted the agent, outside the
 * lease's time, beyond what it granted or after it was released) is
 * marked `out_of_bounds` on its audit record and in the answer, for an
 * auditor to see. The tier held against the bounds is the one the edge
 * would have judged the action at (its tool's floor, the agent's
 * registration), not the one the record claims. An allowed action of a
 * tool with an agent-wide limit counts against that limit as an online one
 * does, and is marked past it (`agent_rate_exceeded`, `agent_circuit_open`).
 */
import { Hono } from "hono";
import { z } from "zod";
import { OFFLINE_DECISION_ID } from "../../packages/agent/src/offline-record.ts";
import { chainBreak, entryHash, SPOOL_GENESIS, type SpoolEntry } from "../../packages/agent/src/spool.ts";
import { offlineAuditRecord } from "../audit/from-offline";
import { byShard, chainFor, countLoss } from "../audit/writer";
import { ApiError } from "../errors";
import { agentAuth, identityOf, type AgentEnv } from "../middleware/agent-auth";
import { jsonBody } from "../middleware/json-body";
import { agentObject, sessionObject } from "../session/objects";
import type { OfflineSpend } from "../session/session-do";
import { readJson, validated } from "./request-body";
import { RISK_TIERS } from "../schema/risk-tier";
import type { OfflineRecord } from "../../packages/agent/src/offline-record.ts";
import { governingPolicy } from "../decision/pipeline";
import { locationOf } from "../decision/region";
import { receiptParams, type ReceiptParams } from "../engine/receipt-params";
import { effectiveTier } from "../decision/effective-tier";
import { agentLimitOf, failModeOf } from "../engine/fallback-params";
import type { AgentCount } from "../session/agent-do";
import { ownMember } from "../own-members";
import { released } from "../rpc-result";
import type { FailMode, RiskTier } from "../types";

export const MAX_UPLOAD_ENTRIES = 100;
/**
 * The most an offline decision's record may be, as JSON: what an online
 * decision's whole body may be. The log's segments are sealed by count, so
 * one agent's outsized records must not make a segment too big to seal,
 * read or export.
 */
export const MAX_OFFLINE_RECORD_BYTES = 64 * 1024;
/** An offline decision older than this is refused: the session objects remember spends only a little longer. */
export const OFFLINE_RECORD_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** Clocks differ; a record this far ahead of the edge's clock is still taken. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

const name = z.string().min(1).max(256);
const hash = z.string().regex(/^sha256:[0-9a-f]{64}$/);
const amount = z.number().finite().nonnegative();

const recordSchema = z.strictObject({
  decision_id: z.string().regex(OFFLINE_DECISION_ID, "an offline decision id is off- and a UUIDv7"),
  time: z.iso.datetime(),
  tenant: name.nullable(),
  agent: name.nullable(),
  session: name,
  action_type: z.enum(["tool_call", "spawn_agent", "plan"]),
  tool: name.nullable(),
  action_hash: hash,
  decision: z.enum(["allow", "deny", "require_approval"]),
  rules: z.array(name).max(100),
  obligations: z.array(z.unknown()).max(100),
  risk_tier: z.enum(RISK_TIERS),
  source: z.enum(["local_policy", "fail_mode"]),
  layers: z.array(z.strictObject({ scope: name, digest: name, version: z.number().int().nonnegative() })).max(3).optional(),
  region: name.optional(),
  lease_id: z.string().regex(/^lse_[0-9a-f]{24}$/).optional(),
  cost: z.strictObject({ tokens: amount, api_calls: amount, cost_usd: amount }).optional(),
  args: z.record(z.string(), z.unknown()).optional(),
  args_redacted: z.boolean().optional(),
  last_contact: z.iso.datetime().nullable(),
});

const entrySchema = z.strictObject({ seq: z.number().int().positive(), prev: hash, hash, record: z.unknown() });
const uploadSchema = z.strictObject({ entries: z.array(entrySchema).min(1).max(MAX_UPLOAD_ENTRIES) });

interface Rejection {
  seq: number;
  decision_id?: string;
  code: string;
  message: string;
}

export const offlineDecisionsRoute = new Hono<AgentEnv>().post("/decisions", agentAuth(), jsonBody(512 * 1024), async (c) => {
  const identity = identityOf(c);
  const { entries } = validated(uploadSchema, await readJson(c));
  const now = Date.now();
  const accepted: SpoolEntry[] = [];
  const rejected: Rejection[] = [];
  for (const entry of entries) {
    const parsed = recordSchema.safeParse(entry.record);
    const decisionId = (entry.record as { decision_id?: unknown } | null)?.decision_id;
    const reject = (code: string, message: string) =>
      rejected.push({ seq: entry.seq, ...(typeof decisionId === "string" && decisionId.length <= 64 ? { decision_id: decisionId } : {}), code, message });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      reject("invalid_record", `${issue.path.map(String).join(".") || "record"}: ${issue.message}`);
      continue;
    }
    const record = parsed.data;
    const time = Date.parse(record.time);
    const size = new TextEncoder().encode(JSON.stringify(record)).byteLength;
    if (size > MAX_OFFLINE_RECORD_BYTES) reject("too_large", `the record is ${size} bytes as JSON; an offline decision's record is at most ${MAX_OFFLINE_RECORD_BYTES}, as an online decision is`);
    else if ((record.tenant ?? identity.tenant) !== identity.tenant || (record.agent ?? identity.agent) !== identity.agent) reject("identity_mismatch", `the record is of ${record.tenant}/${record.agent}; the credential is of ${identity.tenant}/${identity.agent}`);
    else if (time > now + CLOCK_SKEW_MS) reject("from_the_future", `the record is dated ${record.time}, after the edge's clock`);
    else if (time < now - OFFLINE_RECORD_MAX_AGE_MS) reject("too_old", `offline decisions are taken for ${OFFLINE_RECORD_MAX_AGE_MS / 86_400_000} days; this one is from ${record.time}`);
    else if ((await entryHash(entry.prev, record)) !== entry.hash) reject("hash_mismatch", "the entry's hash does not match its record");
    else accepted.push({ ...entry, record });
  }
  /** Decisions the log held before this upload: copies, judged and counted when they first came. */
  const logged = new Set<string>();
  // The log takes a decision id once, so a record under an id already taken would be answered accepted and
  // left out of the log (its spend with it), with no gap in the spool to show for it. Only the same spool
  // entry sent again (an answer that was lost) is taken again, as the copy it is.
  if (accepted.length > 0) {
    let chained: Array<{ decision_id: string; agent: string; spool_hash: string | null }>;
    try {
      chained = released(await chainFor(c.env, identity.tenant).chainedSpoolEntries(accepted.map((entry) => entry.record.decision_id)));
    } catch (error) {
      throw new ApiError(503, "audit_unavailable", `the decisions could not be checked against the audit log, nothing was taken; send them again (${(error as Error).message})`);
    }
    const holder = new Map(chained.map((row) => [row.decision_id, row.agent === identity.agent ? row.spool_hash : null]));
    for (const row of chained) logged.add(row.decision_id);
    const fresh = accepted.splice(0);
    for (const entry of fresh) {
      const id = entry.record.decision_id;
      const held = holder.get(id);
      if (held !== undefined && held !== entry.hash) {
        rejected.push({ seq: entry.seq, decision_id: id, code: "decision_id_taken", message: "the log already holds another decision under this decision id" });
        continue;
      }
      holder.set(id, entry.hash);
      accepted.push(entry);
    }
  }
  if (rejected.length > 0) c.executionCtx.waitUntil(countLoss(c.env, "offline_records_rejected", rejected.length));

  // A gap in the chain is the agent's spool missing entries between two it sent: recorded, not refused.
  // Between two entries of this upload, the chain says so; before its first, whether that entry follows
  // on from one an earlier upload brought (the agent's object remembers them).
  const gaps = new Set<number>();
  for (let i = 1; i < accepted.length; i++) {
    if ((await chainBreak([accepted[i - 1], accepted[i]])) !== undefined) gaps.add(accepted[i].seq);
  }
  if (accepted.length > 0) {
    try {
      const follows = await agentObject(c.env, identity.tenant, identity.agent).continuesSpool(accepted[0].prev, SPOOL_GENESIS, accepted.map((entry) => entry.hash), now);
      if (!follows) gaps.add(accepted[0].seq);
    } catch (error) {
      // Not knowing is not a gap: the records are taken all the same, and the unchecked upload is counted.
      console.error(`offline upload: the agent's spool could not be checked for a gap: ${(error as Error).message}`);
      c.executionCtx.waitUntil(countLoss(c.env, "offline_uploads_unchecked_for_gaps"));
    }
  }
  // The governing policy is read only when there is a record to hold against its offline bounds.
  const flagged = new Map<number, string[]>();
  const flag = (seq: number, reasons: string[]) => flagged.set(seq, [...(flagged.get(seq) ?? []), ...reasons]);
  if (accepted.length > 0) {
    const policy = (await governingPolicy(c.env, c.executionCtx, identity.tenant, locationOf(c.req.raw), now)).resolution.policy;
    const bounds = receiptParams(policy.data).offline;
    for (const entry of accepted) {
      // The tier the edge would have judged the action at (its tool's floor, the agent's registration), not the one the record claims.
      const tier = effectiveTier(policy.data, { type: entry.record.action_type, tool: entry.record.tool }, entry.record.risk_tier as RiskTier, identity.registration.risk_tier).tier;
      const reasons = outOfBounds(entry.record, tier, bounds, failModeOf(policy.data, tier));
      if (reasons.length > 0) flag(entry.seq, reasons);
    }
    // An allowed action of a tool with an agent-wide limit counts against it as an online one does (at the
    // registered agent its tree descends from, once per decision id, as of now), so acting offline neither
    // escapes the limit nor leaves the agent's breaker closed; one past it is marked.
    for (const entry of accepted) {
      const { record } = entry;
      const counts = record.decision === "allow" && record.tool !== null && !logged.has(record.decision_id);
      const limit = counts ? agentLimitOf(policy.data, record.tool!) : null;
      if (!limit) continue;
      let counted: AgentCount;
      try {
        counted = released(await agentObject(c.env, identity.tenant, identity.delegation.root_agent ?? identity.agent).count(limit, JSON.stringify([identity.agent, record.session, record.decision_id]), now));
      } catch (error) {
        throw new ApiError(503, "session_state_unavailable", `the decisions could not be counted against the agent-wide limits, nothing was taken; send them again (${(error as Error).message})`);
      }
      if (!counted.allowed) flag(entry.seq, [counted.rule]);
    }
  }
  // Each spend against the lease it names, as the session that granted it knows it: a lease this session never
  // granted this agent, a time outside it, or more than it granted.
  const leased = accepted.filter((entry) => entry.record.decision === "allow" && entry.record.cost !== undefined && entry.record.lease_id !== undefined);
  for (const [session, group] of byShard(leased, (entry) => entry.record.session)) {
    let judged: Record<string, string[]>;
    try {
      judged = released(
        await sessionObject(c.env, identity.tenant, identity.agent, session).judgeOfflineSpends(
          identity.agent,
          group.map((entry) => ({ decision_id: entry.record.decision_id, lease_id: entry.record.lease_id!, cost: entry.record.cost!, at_ms: Date.parse(entry.record.time) })),
          CLOCK_SKEW_MS,
        ),
      );
    } catch (error) {
      throw new ApiError(503, "session_state_unavailable", `the decisions' leases could not be checked, nothing was taken; send them again (${(error as Error).message})`);
    }
    for (const entry of group) {
      const reasons = ownMember(judged, entry.record.decision_id);
      if (reasons) flag(entry.seq, reasons);
    }
  }
  if (flagged.size > 0) c.executionCtx.waitUntil(countLoss(c.env, "offline_records_out_of_bounds", flagged.size));
  const records = accepted.map((entry) => offlineAuditRecord(entry, identity, now, gaps.has(entry.seq), flagged.get(entry.seq)));
  if (records.length > 0) {
    try {
      released(await chainFor(c.env, identity.tenant).append(records));
    } catch (error) {
      throw new ApiError(503, "audit_unavailable", `the decisions could not be written to the audit log, nothing was taken; send them again (${(error as Error).message})`);
    }
  }
  const spends: Array<OfflineSpend & { session: string }> = accepted
    .filter((entry) => entry.record.cost !== undefined && entry.record.decision === "allow")
    .map((entry) => ({ session: entry.record.session, decision_id: entry.record.decision_id, lease_id: entry.record.lease_id ?? null, cost: entry.record.cost! }));
  for (const [session, group] of byShard(spends, (spend) => spend.session)) {
    try {
      released(await sessionObject(c.env, identity.tenant, identity.agent, session).spendOffline(group.map(({ session: _session, ...spend }) => spend), now));
    } catch (error) {
      // The records are in the log; the debit is not. A retry debits each decision once.
      throw new ApiError(503, "session_state_unavailable", `the decisions are recorded but their spending could not be debited; send them again (${(error as Error).message})`);
    }
  }
  const outOfBoundsAnswer = accepted.filter((entry) => flagged.has(entry.seq)).map((entry) => ({ seq: entry.seq, decision_id: entry.record.decision_id, reasons: flagged.get(entry.seq)! }));
  return c.json({ accepted: accepted.map((entry) => entry.record.decision_id), rejected, ...(outOfBoundsAnswer.length > 0 ? { out_of_bounds: outOfBoundsAnswer } : {}) });
});

/** What about a record the offline bounds could not have produced (see the module's comment); empty when nothing. */
function outOfBounds(record: OfflineRecord, tier: RiskTier, bounds: ReceiptParams["offline"], failMode: FailMode): string[] {
  const reasons: string[] = [];
  if (record.source === "local_policy") {
    if (!(bounds.tiers as string[]).includes(tier)) reasons.push("tier_not_offline");
    // Within the window after the last contact; a time before it (a clock set back) is outside too.
    const sinceContact = Date.parse(record.time) - (record.last_contact === null ? Number.NaN : Date.parse(record.last_contact));
    if (!(sinceContact >= -CLOCK_SKEW_MS && sinceContact <= bounds.max_window_s * 1000)) reasons.push("outside_offline_window");
    if (record.decision === "allow" && record.cost !== undefined && record.lease_id === undefined) reasons.push("spent_without_lease");
  } else if (record.decision === "allow" && failMode !== "open") {
    // A fail mode allows only a tier that fails open; its cost is owed without a lease, and debited now.
    reasons.push("fail_mode_not_open");
  }
  // No sub-agent's credential can be minted offline, so no spawn is allowed there (the SDK denies it).
  if (record.decision === "allow" && record.action_type === "spawn_agent") reasons.push("spawn_offline");
  return reasons;
}

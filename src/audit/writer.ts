/**
 * @module writer
 * How a decision's record leaves the edge: normally onto the audit Queue in
 * a short batch, built when the batch leaves (one message per 96 KB), off
 * the response path; appended to the shard's chain before the response when
 * the policy demands an acknowledged record (obligation `audit_sync`, set
 * for the critical tier); and, if the Queue refuses a message, written
 * straight to the chains instead. A record that cannot be written either way
 * is counted, never dropped silently.
 */
import { AuditBatcher } from "./batcher";
import type { ChainRecord } from "./chain";
import { obligationsOf, type AuditRecord } from "./record";

export const METRICS_SHARD = "__metrics__";

/** One Queue message: a batch of records from one isolate, of any shards, in order. */
export interface AuditMessage {
  records: ChainRecord[];
}

export function chainFor(env: Env, shard: string) {
  return env.AUDIT_CHAINS.get(env.AUDIT_CHAINS.idFromName(shard));
}

export async function countLoss(env: Env, name: string, by = 1): Promise<void> {
  try {
    await chainFor(env, METRICS_SHARD).count(name, by);
  } catch (error) {
    console.error(`audit: cannot count ${name}: ${(error as Error).message}`);
  }
}

/** Records grouped by the shard (tenant) whose chain they belong to, in arrival order. */
export function byShard<T>(items: readonly T[], shardOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const shard = shardOf(item);
    const group = groups.get(shard);
    if (group) group.push(item);
    else groups.set(shard, [item]);
  }
  return groups;
}

async function writeThrough(env: Env, records: ChainRecord[]): Promise<void> {
  for (const [shard, group] of byShard(records, (r) => r.tenant)) {
    await chainFor(env, shard)
      .append(group)
      .catch(async (error) => {
        console.error(`audit: ${group.length} record(s) for ${shard} lost: ${(error as Error).message}`);
        await countLoss(env, "records_lost", group.length);
      });
  }
}

/** Queues accepts messages up to 128 KB; a message is cut well before (sizes are JSON estimates). */
const MAX_MESSAGE_BYTES = 96 * 1024;

/**
 * A record, or what builds it. A decision's record is built when its batch
 * leaves, not while the agent waits; records that already exist (shadow
 * diffs) are queued as they are.
 */
export type PendingRecord = ChainRecord | (() => Promise<ChainRecord>);

/** Records cut into Queue messages in order; a record over the limit travels alone (and is refused). */
export function intoMessages(records: ChainRecord[], maxBytes = MAX_MESSAGE_BYTES): ChainRecord[][] {
  const messages: ChainRecord[][] = [];
  let current: ChainRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = JSON.stringify(record).length;
    if (current.length > 0 && bytes + size > maxBytes) {
      messages.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) messages.push(current);
  return messages;
}

/** Builds a batch's records and sends them; a message the Queue refuses is written through and counted. */
async function flushBatch(env: Env, pending: PendingRecord[]): Promise<void> {
  const built = await Promise.allSettled(pending.map((entry) => (typeof entry === "function" ? entry() : entry)));
  const records: ChainRecord[] = [];
  for (const result of built) {
    if (result.status === "fulfilled") records.push(result.value);
    else console.error(`audit: a record could not be built and is lost: ${(result.reason as Error).message}`);
  }
  if (records.length < pending.length) await countLoss(env, "records_lost", pending.length - records.length);
  for (const message of intoMessages(records)) {
    try {
      await env.AUDIT_QUEUE.send({ records: message } satisfies AuditMessage);
    } catch (error) {
      console.error(`audit: the queue refused ${message.length} record(s): ${(error as Error).message}; writing through`);
      await countLoss(env, "queue_send_failures", message.length);
      await writeThrough(env, message);
    }
  }
}

// One batcher per isolate (per binding, should the environment ever differ).
const batchers = new WeakMap<object, AuditBatcher<PendingRecord>>();

function auditBatcher(env: Env): AuditBatcher<PendingRecord> {
  let batcher = batchers.get(env.AUDIT_QUEUE);
  if (!batcher) {
    batcher = new AuditBatcher((pending) => flushBatch(env, pending));
    batchers.set(env.AUDIT_QUEUE, batcher);
  }
  return batcher;
}

/** Queues records off the response path; `background` keeps their flush alive. */
export function enqueueAudit(env: Env, records: PendingRecord[], background: (work: Promise<unknown>) => void): void {
  const batcher = auditBatcher(env);
  for (const record of records) {
    const flush = batcher.add(record);
    if (flush) background(flush);
  }
}

/** Whether the policy demands an acknowledged record (obligation `audit_sync`, set for the critical tier). */
export function wantsSyncAudit(obligations: unknown[]): boolean {
  return obligationsOf(obligations, "audit_sync").length > 0;
}

/** Appends a record to its shard's chain before the decision is answered; a failure fails the decision. */
export async function appendAcknowledged(env: Env, record: AuditRecord): Promise<void> {
  await chainFor(env, record.tenant).append([record]);
}

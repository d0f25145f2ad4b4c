/**
 * @module writer
 * How a decision's record leaves the edge: normally onto the audit Queue in
 * a short batch (one message), off the response path; appended to the
 * shard's chain before the response when the policy demands an acknowledged
 * record (obligation `audit_sync`, set for the critical tier); and, if the
 * Queue refuses the message, written straight to the chains instead. A
 * record that cannot be written either way is counted, never dropped
 * silently.
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

// One batcher per isolate (per binding, should the environment ever differ).
const batchers = new WeakMap<object, AuditBatcher<ChainRecord>>();

export function auditBatcher(env: Env): AuditBatcher<ChainRecord> {
  let batcher = batchers.get(env.AUDIT_QUEUE);
  if (!batcher) {
    batcher = new AuditBatcher({
      send: async (records) => {
        await env.AUDIT_QUEUE.send({ records } satisfies AuditMessage);
      },
      fallback: async (records, error) => {
        console.error(`audit: the queue refused ${records.length} record(s): ${(error as Error).message}; writing through`);
        await countLoss(env, "queue_send_failures", records.length);
        await writeThrough(env, records);
      },
    });
    batchers.set(env.AUDIT_QUEUE, batcher);
  }
  return batcher;
}

/** Queues records off the response path; `background` keeps their flush alive. */
export function enqueueAudit(env: Env, records: ChainRecord[], background: (work: Promise<unknown>) => void): void {
  const batcher = auditBatcher(env);
  for (const record of records) {
    const flush = batcher.add(record);
    if (flush) background(flush);
  }
}

export function wantsSyncAudit(obligations: unknown[]): boolean {
  return obligationsOf(obligations, "audit_sync").length > 0;
}

/** Returns what must finish before the response (sync audit) and what may run after it. */
export async function emitAudit(env: Env, record: AuditRecord, background: (work: Promise<unknown>) => void): Promise<{ synced: boolean }> {
  if (wantsSyncAudit(record.obligations)) {
    // Acknowledged means appended to the chain: a failure here fails the decision, not the record.
    await chainFor(env, record.tenant).append([record]);
    return { synced: true };
  }
  enqueueAudit(env, [record], background);
  return { synced: false };
}

/**
 * @module writer
 * How a decision's record leaves the edge: normally onto the audit Queue in
 * a short batch, built when the batch leaves and sent as JSON lines (one
 * message per 96 KB), off the response path; appended to the shard's chain
 * before the response when the policy demands an acknowledged record
 * (obligation `audit_sync`, set for the critical tier); and, if the Queue
 * refuses a message, written straight to the chains instead. A record that
 * cannot be written either way is counted, never dropped silently.
 */
import { released } from "../rpc-result";
import { batcherFor } from "../window-batcher";
import { cutBySize, MAX_QUEUE_MESSAGE_BYTES, utf8Length } from "../queue-message-size";
import type { ChainRecord } from "./chain";
import { obligationsOf, type AuditRecord } from "./record";

export const METRICS_SHARD = "__metrics__";

/**
 * One Queue message: records from one isolate's batch, of any shards, in
 * order, as JSON lines (one record per line) sent as text. The lines are
 * made once, to size the message; as UTF-8 text its size on the Queue is
 * exactly what was counted, and nothing is serialized a second time.
 */
export type AuditMessage = string;

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
      .then(released, async (error) => {
        console.error(`audit: ${group.length} record(s) for ${shard} lost: ${(error as Error).message}`);
        await countLoss(env, "records_lost", group.length);
      });
  }
}

/**
 * A record, or what builds it. A decision's record is built when its batch
 * leaves, not while the agent waits; records that already exist (shadow
 * diffs) are queued as they are.
 */
export type PendingRecord = ChainRecord | (() => Promise<ChainRecord>);

/** JSON lines cut into messages in order, by UTF-8 size; a line over the limit travels alone (and is refused). */
export function intoMessages(lines: string[], maxBytes = MAX_QUEUE_MESSAGE_BYTES): AuditMessage[] {
  return cutBySize(lines, utf8Length, maxBytes).map((group) => group.join("\n"));
}

/** A message's lines as records again; a line that is not a record (no decision id or tenant) is counted, not chained. */
export function parseLines(message: AuditMessage): { records: ChainRecord[]; unreadable: number } {
  const records: ChainRecord[] = [];
  let unreadable = 0;
  for (const line of message.split("\n")) {
    let record: Partial<ChainRecord> | undefined;
    try {
      record = JSON.parse(line) as Partial<ChainRecord>;
    } catch {
      // counted below
    }
    if (typeof record?.decision_id === "string" && typeof record.tenant === "string") records.push(record as ChainRecord);
    else unreadable++;
  }
  return { records, unreadable };
}

/** Builds a batch's records and sends them; a message the Queue refuses is written through and counted. */
async function flushBatch(env: Env, pending: PendingRecord[]): Promise<void> {
  const built = await Promise.allSettled(pending.map((entry) => (typeof entry === "function" ? entry() : entry)));
  const lines: string[] = [];
  for (const result of built) {
    try {
      if (result.status === "rejected") throw result.reason;
      lines.push(JSON.stringify(result.value));
    } catch (error) {
      // One record that cannot be built or serialised is counted below; its batch-mates still go.
      console.error(`audit: a record could not be built and is lost: ${(error as Error).message}`);
    }
  }
  if (lines.length < pending.length) await countLoss(env, "records_lost", pending.length - lines.length);
  for (const message of intoMessages(lines)) {
    try {
      await env.AUDIT_QUEUE.send(message, { contentType: "text" });
    } catch (error) {
      const { records } = parseLines(message);
      console.error(`audit: the queue refused ${records.length} record(s): ${(error as Error).message}; writing through`);
      await countLoss(env, "queue_send_failures", records.length);
      await writeThrough(env, records);
    }
  }
}

/** Queues records off the response path; `background` keeps their flush alive. */
export function enqueueAudit(env: Env, records: PendingRecord[], background: (work: Promise<unknown>) => void): void {
  const batcher = batcherFor<PendingRecord>(env.AUDIT_QUEUE, (pending) => flushBatch(env, pending));
  for (const record of records) {
    const flush = batcher.add(record);
    if (flush) background(flush);
  }
}

/** Whether the policy demands an acknowledged record (obligation `audit_sync`, set for the critical tier). */
export function wantsSyncAudit(obligations: unknown[]): boolean {
  return obligationsOf(obligations, "audit_sync").length > 0;
}

/**
 * Appends a record to its shard's chain before the decision is answered; a failure fails the decision.
 * An append can commit and still fail on its way back (a connection cut, a reset after the commit):
 * then the record is on the log, acknowledged. Failing the decision then would leave the log saying
 * what the agent was not told, since its denial's record, under the same decision id, is taken for a copy.
 */
export async function appendAcknowledged(env: Env, record: AuditRecord): Promise<void> {
  try {
    // A record the chain object could not chain at all (it counts it lost) is no acknowledgement.
    const { rejected } = released(await chainFor(env, record.tenant).append([record]));
    if (rejected > 0) throw new Error(`the audit chain could not chain decision ${record.decision_id}`);
  } catch (error) {
    // A fresh stub: one that has thrown may be broken.
    const chained = await chainFor(env, record.tenant)
      .query({ decision_id: record.decision_id })
      .then((page) => released(page).records.length > 0, () => false);
    if (!chained) throw error;
  }
}

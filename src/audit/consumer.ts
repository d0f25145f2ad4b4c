/**
 * @module consumer
 * The audit Queue's consumer. Each message carries a batch of records as
 * JSON lines; the records of all messages are grouped by shard and appended
 * to each shard's chain in one call, in arrival order. A message with a
 * record whose append failed is retried whole (the Queue redelivers it, up
 * to its retry limit, then to the dead-letter queue); appends are idempotent
 * by decision id, so its records that did get in are not chained twice.
 * Records that reach the dead-letter queue get one last attempt and are
 * otherwise counted as lost, as is a line that is not a record at all, or a
 * record too deep to hash: one bad record never costs its batch-mates.
 */
import { released } from "../rpc-result";
import { findLimitViolation, type JsonLimits } from "../schema/json-limits";
import type { ChainRecord } from "./chain";
import { byShard, chainFor, countLoss, parseLines, type AuditMessage } from "./writer";

export const DEAD_LETTER_QUEUE = "tollgate-audit-dlq";

/** Records are built from bounded inputs; anything deeper or larger did not come from an edge. */
const RECORD_LIMITS: JsonLimits = { maxDepth: 64, maxArrayLength: 100_000, maxObjectKeys: 10_000, maxStringLength: 1024 * 1024 };

export async function consumeAudit(batch: MessageBatch<AuditMessage>, env: Env): Promise<void> {
  const lastAttempt = batch.queue === DEAD_LETTER_QUEUE;
  const carried: Array<{ record: ChainRecord; message: Message<AuditMessage> }> = [];
  const unreadable = new Map<Message<AuditMessage>, number>();
  for (const message of batch.messages) {
    const lines = linesOf(message.body);
    if (lines === undefined) {
      // Nothing in it can be chained: counted as one record lost, never dropped unseen.
      console.error(`audit: message ${message.id} carries no records; lost`);
      message.ack();
      await countLoss(env, "records_lost", 1);
      continue;
    }
    const parsed = parseLines(lines);
    // A record no consumer could hash (nested past any real record) is counted, never sent on with its batch.
    const chainable = parsed.records.filter((record) => findLimitViolation(record, RECORD_LIMITS) === undefined);
    const lost = parsed.unreadable + parsed.records.length - chainable.length;
    if (lost > 0) unreadable.set(message, lost);
    for (const record of chainable) carried.push({ record, message });
  }
  const failed = new Set<Message<AuditMessage>>();
  for (const [shard, group] of byShard(carried, (item) => item.record.tenant)) {
    try {
      released(await chainFor(env, shard).append(group.map((item) => item.record)));
    } catch (error) {
      console.error(`audit: append of ${group.length} record(s) to ${shard} failed${lastAttempt ? "; they are lost" : ", retrying"}: ${(error as Error).message}`);
      await countLoss(env, lastAttempt ? "records_lost" : "append_retries", group.length);
      for (const item of group) failed.add(item.message);
    }
  }
  for (const message of new Set([...carried.map((item) => item.message), ...unreadable.keys()])) {
    if (failed.has(message) && !lastAttempt) {
      message.retry();
      continue;
    }
    message.ack();
    // A line that is not a JSON record cannot be chained on any attempt: counted once, when its message is done.
    const lost = unreadable.get(message);
    if (lost) {
      console.error(`audit: message ${message.id} has ${lost} line(s) that are not records that can be chained; lost`);
      await countLoss(env, "records_lost", lost);
    }
  }
}

/**
 * A message's records as JSON lines. Edges send them so; earlier versions
 * sent `{records: [...]}` or one record, which may still be on the Queue or
 * its dead-letter queue after a deploy: read too. Undefined when the body
 * holds no record at all.
 */
function linesOf(body: unknown): string | undefined {
  if (typeof body === "string") return body;
  if (typeof body !== "object" || body === null) return undefined;
  const records = (body as { records?: unknown }).records;
  if (Array.isArray(records)) return records.map((record) => JSON.stringify(record)).join("\n");
  return typeof (body as { decision_id?: unknown }).decision_id === "string" ? JSON.stringify(body) : undefined;
}

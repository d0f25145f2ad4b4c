/**
 * @module consumer
 * The audit Queue's consumer: records are grouped by shard and appended to
 * each shard's chain in one call. A shard whose append fails has its
 * messages retried (the Queue redelivers them, up to its retry limit, then
 * to the dead-letter queue); appends are idempotent by decision id, so a
 * redelivered record is never chained twice. Records that reach the
 * dead-letter queue get one last attempt and are otherwise counted as lost.
 */
import type { AuditRecord } from "./record";
import { chainFor, countLoss } from "./writer";

export const DEAD_LETTER_QUEUE = "tollgate-audit-dlq";

export async function consumeAudit(batch: MessageBatch<AuditRecord>, env: Env): Promise<void> {
  const byShard = new Map<string, Message<AuditRecord>[]>();
  for (const message of batch.messages) {
    const shard = message.body.tenant;
    byShard.set(shard, [...(byShard.get(shard) ?? []), message]);
  }
  for (const [shard, messages] of byShard) {
    try {
      await chainFor(env, shard).append(messages.map((m) => m.body as unknown as AuditRecord & Record<string, unknown>));
      for (const message of messages) message.ack();
    } catch (error) {
      console.error(`audit: append to ${shard} failed, retrying ${messages.length}: ${(error as Error).message}`);
      if (batch.queue === DEAD_LETTER_QUEUE) {
        await countLoss(env, "records_lost", messages.length);
        for (const message of messages) message.ack();
      } else {
        await countLoss(env, "append_retries", messages.length);
        for (const message of messages) message.retry();
      }
    }
  }
}

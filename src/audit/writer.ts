/**
 * @module writer
 * How a decision's record leaves the edge: normally onto the audit Queue,
 * off the response path; written through to the shard's chain before the
 * response when the policy demands an acknowledged record (obligation
 * `audit_sync`, set for the critical tier); and, if the Queue refuses it,
 * written straight to the chain instead. A record that cannot be written
 * either way is counted, never dropped silently.
 */
import type { AuditRecord } from "./record";

export const METRICS_SHARD = "__metrics__";

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

async function writeThrough(env: Env, record: AuditRecord): Promise<void> {
  await chainFor(env, record.tenant).append([record as unknown as AuditRecord & Record<string, unknown>]);
}

export function wantsSyncAudit(obligations: unknown[]): boolean {
  return obligations.some((o) => typeof o === "object" && o !== null && (o as { type?: string }).type === "audit_sync");
}

/** Returns what must finish before the response (sync audit) and what may run after it. */
export async function emitAudit(env: Env, record: AuditRecord, background: (work: Promise<unknown>) => void): Promise<{ synced: boolean }> {
  if (wantsSyncAudit(record.obligations)) {
    await writeThrough(env, record);
    return { synced: true };
  }
  background(
    env.AUDIT_QUEUE.send(record).catch(async (error) => {
      console.error(`audit: queue refused ${record.decision_id}: ${(error as Error).message}; writing through`);
      await countLoss(env, "queue_send_failures");
      await writeThrough(env, record).catch(async (fallbackError) => {
        console.error(`audit: record ${record.decision_id} lost: ${(fallbackError as Error).message}`);
        await countLoss(env, "records_lost");
      });
    }),
  );
  return { synced: false };
}
